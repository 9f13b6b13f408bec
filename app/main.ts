import { allHandlers, companionsLeftOut } from '../handlers/index.js';
import {
  loadConfiguration,
  parseRuntimeConfig,
  type RuntimeConfig,
  redactSecrets,
  createRuntime,
  describeRedis,
  selectHandlers,
  systemClock,
} from '../runtime/host/index.js';
import { ConfigError } from '../schemas/env.js';
import { buildInfo } from './build-info.js';
import { createLogger } from './logging.js';
import { checkHttpEnv, httpPlugins } from './http-plugins.js';
import { checkConfiguration, redisIsConfigured } from './settings.js';
import { redisTape } from './tape/store.js';
import { readinessGauge } from './readiness-gauge.js';
import { preflightRedis, RedisWiringError } from './redis-preflight.js';
import { isListening, localProbe, redisServerAvailable } from './local-redis.js';
import { holdPrivateRedisDir, preferredPrivatePort, privateRedisPort, runPrivateRedis, type PrivateRedis } from './private-redis.js';
import { privateRedisDir } from './private-redis-record.js';
import { statusPageLine } from './http/auth.js';
import { holdRelease } from './release-hold.js';

/**
 * `npm start`: hosts the gates named in HANDLERS (all by default). With no Redis configured,
 * starts a private redis-server in the data directory (the checkout's .data/, or QG_DATA_DIR),
 * never writing into one nobody named.
 */
async function main(): Promise<void> {
  holdRelease();
  // Until the drain below is in place, a SIGTERM or Ctrl-C ends the start through process.exit, so
  // the 'exit' hooks still stop the private redis-server and release the data directory's lock:
  // the signal's default action would end the process without them, leaving the server running.
  const beforeDrain = () => process.exit(1);
  process.once('SIGTERM', beforeDrain);
  process.once('SIGINT', beforeDrain);
  const env: Record<string, string | undefined> = { ...process.env };
  // This host's clock, given to everything that waits or reads the time (the runtime, the logger, the private Redis).
  const clock = systemClock;
  let localRedis: PrivateRedis | undefined;
  // Validate everything (runtime and every selected gate) before touching Redis.
  const { config: runtimeConfig, ignoredSettings, hosted } = checkConfiguration(env, allHandlers, checkHttpEnv);
  const wantsPrivate = runtimeConfig.REDIS_PRIVATE || process.argv.includes('--private-redis');
  if (wantsPrivate && redisIsConfigured(runtimeConfig))
    throw new ConfigError([
      'REDIS_PRIVATE: asks for a private redis-server, but REDIS_URL, REDIS_HOST, REDIS_CLUSTER_NODES or REDIS_SENTINELS names one: set one or the other',
    ]);
  // Nothing named a Redis: the gates run on a private redis-server, never on one that merely
  // answers on the default port (on a shared machine it is somebody else's, perhaps a live
  // pipeline whose consumer groups the gates would join).
  if (!redisIsConfigured(runtimeConfig)) {
    if (!redisServerAvailable()) {
      console.error(
        'quantum-gates: REDIS_URL is not set and redis-server is not installed to run a private one.\n' +
          `  Install it (Debian/Ubuntu: ${process.getuid?.() === 0 ? '' : 'sudo '}apt-get install redis-server; macOS: brew install redis)\n` +
          '  or point REDIS_URL at a running Redis, e.g. REDIS_URL=redis://host:6379/0 npm start',
      );
      process.exit(1);
    }
    const portNamed = (env.REDIS_PORT?.trim() ?? '') !== '';
    const defaultPort = portNamed ? runtimeConfig.REDIS_PORT : preferredPrivatePort(env);
    const redisDir = privateRedisDir(env);
    // Held until this process exits: the port is chosen, the server started and recorded under it.
    await holdPrivateRedisDir(redisDir);
    const unnamed = portNamed ? undefined : await unnamedRedis(defaultPort);
    const port = await privateRedisPort(redisDir, defaultPort, portNamed, clock);
    localRedis = await runPrivateRedis(redisDir, port, (line) => console.error(line), clock);
    // REDIS_HOST rather than a URL, so REDIS_DB and REDIS_PASSWORD still apply to it.
    env.REDIS_HOST = '127.0.0.1';
    env.REDIS_PORT = String(port);
    const why = wantsPrivate
      ? 'as asked'
      : portNamed
        ? 'on the port REDIS_PORT names, as no REDIS_URL or REDIS_HOST names a Redis'
        : unnamed === undefined
          ? 'as no REDIS_URL names one'
          : `as no REDIS_URL names one; the Redis answering at 127.0.0.1:${defaultPort} (${unnamed}) is left alone: nothing named it. To run on that one: REDIS_URL=redis://127.0.0.1:${defaultPort}/0 npm start`;
    console.error(
      `quantum-gates: started a private redis-server at ${localRedis.url} ${why} (data in ${localRedis.dataDir}; the CLI of this checkout finds it, elsewhere: export REDIS_URL=${localRedis.url}/0)`,
    );
  }

  // Refuse a Redis that cannot be used as configured (wrong password, a database it does not
  // have) before any gate starts, rather than run on database 0 or retry forever. A named Redis that does not answer yet (a host booting, a Redis restarting) is waited for,
  // not a reason to exit: a supervisor's restart limit would otherwise leave the gates down for
  // good once it comes back. The runtime waits with /ready at 503 and says so in the log.
  try {
    const gates = selectHandlers(allHandlers, env.HANDLERS).map((handler) => handler.name);
    // A gate that reads the position book needs keyspace events (runtime/host/key-watch.ts).
    const keyWatched = loadConfiguration(env, allHandlers).hosted.some((h) => h.handler.keyWatch !== undefined);
    const warning = await preflightRedis(parseRuntimeConfig(env), runtimeConfig.REDIS_CONNECT_TIMEOUT_MS, gates, keyWatched);
    if (warning !== undefined) console.error(`quantum-gates: ${warning}`);
  } catch (error) {
    if (!(error instanceof RedisWiringError && error.unreachable && localRedis === undefined)) {
      await localRedis?.stop();
      throw error;
    }
    console.error(`quantum-gates: ${error.message}; waiting for it: the gates start when it answers (/ready answers 503 until then)`);
  }

  const logger = createLogger(runtimeConfig.LOG_LEVEL, process.env, {
    format: runtimeConfig.LOG_FORMAT,
    repeatWindowMs: runtimeConfig.LOG_REPEAT_WINDOW_MS,
    now: clock.now,
  });
  const runtime = await createRuntime({
    env,
    handlers: allHandlers,
    build: buildInfo(),
    httpPlugins,
    logger,
    clock,
    tape: redisTape(
      env,
      hosted.map((h) => h.handler.name),
    ),
  });
  readinessGauge(runtime.services.registry, runtime.services.readinessCauses);
  if (ignoredSettings.length > 0)
    runtime.services.logger.warn({ variables: ignoredSettings }, 'variables named like settings that no hosted gate reads: ignored');
  for (const { gate, missing, stops } of companionsLeftOut(hosted.map((h) => h.handler.name)))
    runtime.services.logger.warn(
      { gate, missing },
      `HANDLERS hosts ${gate} without ${missing.join(', ')}: unless another process hosts them, ${stops} (HANDLERS=all,-name leaves one gate out)`,
    );
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    runtime.services.logger.info({ signal }, 'shutdown requested');
    const stopped = new AbortController();
    void clock.sleep(runtime.config.SHUTDOWN_TIMEOUT_MS, stopped.signal).then(() => {
      if (stopped.signal.aborted) return;
      runtime.services.logger.error('shutdown timed out; exiting');
      process.exit(1);
    });
    await runtime.stop();
    stopped.abort();
    await localRedis?.stop();
    process.exit(0);
  };
  process.off('SIGTERM', beforeDrain);
  process.off('SIGINT', beforeDrain);
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  const address = await runtime.start();
  // Where `quantum-gates status` of this data directory asks (PORT may not be the default 8080).
  localRedis?.recordGates(address);
  console.error(`quantum-gates: using ${redisInPlainWords(runtime.config, localRedis)}`);
  console.error(`quantum-gates: serving ${address} (metrics ${address}/metrics, readiness ${address}/ready)`);
  console.error(`quantum-gates: ${statusPageLine(env, runtime.config.HOST, address)}`);
}

/**
 * What answers on the default port, said when the gates leave it alone: undefined when nothing
 * does. Only read (DBSIZE), never written.
 */
async function unnamedRedis(port: number): Promise<string | undefined> {
  if (!(await isListening('127.0.0.1', port))) return undefined;
  const probe = localProbe(port);
  try {
    await probe.connect();
    const size = await probe.dbsize();
    return `it holds ${size} key${size === 1 ? '' : 's'}`;
  } catch {
    return 'its contents could not be read';
  } finally {
    probe.disconnect();
  }
}

/** Which Redis the gates run on and why that one, so nobody has to guess from the defaults. */
function redisInPlainWords(config: RuntimeConfig, localRedis: PrivateRedis | undefined): string {
  if (localRedis) return `the private redis-server this process started, ${localRedis.url} (it stops with the gates)`;
  const where = describeRedis(config);
  if (config.REDIS_CLUSTER_NODES) return `the Redis Cluster at ${where.replace(/^cluster /, '')} (REDIS_CLUSTER_NODES)`;
  if (config.REDIS_SENTINELS) return `the Redis ${where} (REDIS_SENTINELS)`;
  if (config.REDIS_URL) return `the Redis at ${where} (REDIS_URL)`;
  if (config.REDIS_HOST) return `the Redis at ${where} (REDIS_HOST)`;
  return `the Redis at ${where}`;
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof RedisWiringError) {
    console.error(`quantum-gates: ${error.message}`);
  } else {
    // Only the stack, never the error object: ioredis errors carry the command's arguments
    // (AUTH's password among them) as properties.
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    console.error(`quantum-gates: failed to start: ${redactSecrets(configForRedaction(), text)}`);
  }
  process.exit(1);
});

/** The configuration whose secrets to hide, or an empty one when it is itself the problem. */
function configForRedaction(): RuntimeConfig {
  try {
    return parseRuntimeConfig(process.env);
  } catch {
    return parseRuntimeConfig({});
  }
}
