import { createServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { allHandlers } from '../handlers/index.js';
import {
  packageRoot,
  parseRuntimeConfig,
  redisIsConfigured,
  type RuntimeConfig,
  ConfigError,
  preflightRedis,
  redactSecrets,
  RedisWiringError,
  createRuntime,
  loadConfiguration,
  describeRedis,
} from '../runtime/host/index.js';
import { checkHttpEnv, httpPlugins } from './http-plugins.js';
import { isListening, redisServerAvailable, startLocalRedis, type LocalRedis } from './local-redis.js';
import { statusPageLine } from './http/auth.js';

// The checkout (not dist/ when the build runs): the private redis-server keeps its data in .data/.
const projectRoot = packageRoot();

/**
 * `npm start`: hosts the gates named in HANDLERS (all by default). With no Redis configured and
 * none answering on 127.0.0.1:6379, starts a private redis-server under .data/.
 */
async function main(): Promise<void> {
  const env: Record<string, string | undefined> = { ...process.env };
  let localRedis: LocalRedis | undefined;
  // Validate everything (runtime and every selected gate) before touching Redis.
  const { config: runtimeConfig } = loadConfiguration(env, allHandlers, checkHttpEnv);
  const wantsPrivate = runtimeConfig.REDIS_PRIVATE || process.argv.includes('--private-redis');
  if (wantsPrivate && redisIsConfigured(runtimeConfig))
    throw new ConfigError([
      'REDIS_PRIVATE: asks for a private redis-server, but REDIS_URL, REDIS_HOST, REDIS_CLUSTER_NODES or REDIS_SENTINELS names one: set one or the other',
    ]);
  const answering = !redisIsConfigured(runtimeConfig) && (await isListening('127.0.0.1', runtimeConfig.REDIS_PORT));
  if (wantsPrivate || (!redisIsConfigured(runtimeConfig) && !answering)) {
    if (!redisServerAvailable()) {
      console.error(
        'quantum-gates: no Redis answers on 127.0.0.1:6379, REDIS_URL is not set, and redis-server is not installed.\n' +
          `  Install it (Debian/Ubuntu: ${process.getuid?.() === 0 ? '' : 'sudo '}apt-get install redis-server; macOS: brew install redis)\n` +
          '  or point REDIS_URL at a running Redis, e.g. REDIS_URL=redis://host:6379/0 npm start',
      );
      process.exit(1);
    }
    // Beside a Redis that already answers on REDIS_PORT, the private one takes a free port.
    const port = answering ? await freeLoopbackPort() : runtimeConfig.REDIS_PORT;
    localRedis = await startLocalRedis(projectRoot, port);
    // REDIS_HOST rather than a URL, so REDIS_DB and REDIS_PASSWORD still apply to it.
    env.REDIS_HOST = '127.0.0.1';
    env.REDIS_PORT = String(port);
    console.error(
      wantsPrivate
        ? `quantum-gates: started a private redis-server at ${localRedis.url} as asked (data in ${localRedis.dataDir}); for the CLI: export REDIS_URL=${localRedis.url}/0`
        : `quantum-gates: no Redis was running, so started a private redis-server at ${localRedis.url} (data in ${localRedis.dataDir})`,
    );
  } else if (answering) {
    console.error(await notOursWarning(runtimeConfig.REDIS_PORT));
  }

  // Refuse a Redis that cannot be used as configured (wrong password, a database it does not
  // have, nothing answering) before any gate starts, rather than run on database 0 or retry forever.
  try {
    await preflightRedis(parseRuntimeConfig(env), runtimeConfig.REDIS_CONNECT_TIMEOUT_MS);
  } catch (error) {
    await localRedis?.stop();
    throw error;
  }

  const runtime = await createRuntime({ env, handlers: allHandlers, httpPlugins, checkHttpEnv });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    runtime.services.logger.info({ signal }, 'shutdown requested');
    const timer = setTimeout(() => {
      runtime.services.logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, runtime.config.SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    await runtime.stop();
    await localRedis?.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  const address = await runtime.start();
  console.error(`quantum-gates: using ${redisInPlainWords(runtime.config, localRedis)}`);
  console.error(`quantum-gates: serving ${address} (metrics ${address}/metrics, readiness ${address}/ready)`);
  console.error(`quantum-gates: ${statusPageLine(env, runtime.config.HOST, address)}`);
}

/**
 * Said loudly when the gates are about to write into a Redis nobody named: on a shared machine it
 * is somebody else's (another project, another developer's gates).
 */
async function notOursWarning(port: number): Promise<string> {
  const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000 });
  let holds = 'its contents could not be read';
  try {
    await probe.connect();
    const [size, ours] = await Promise.all([
      probe.dbsize(),
      probe.exists('quantum:gates:positions:active_symbols', 'quantum:gates:job-done:position-index'),
    ]);
    holds = `it holds ${size} key${size === 1 ? '' : 's'}${ours > 0 ? ', quantum-gates among them' : ''}`;
  } catch {
    // An answer that is no Redis, or one that wants a password: the start-up check names it next.
  } finally {
    probe.disconnect();
  }
  return [
    `quantum-gates: WARNING: writing into the Redis already answering at 127.0.0.1:${port}, which no setting names and this process did not start (${holds}).`,
    '  If it is not yours, stop now (Ctrl-C) and run `REDIS_PRIVATE=1 npm start` (a private redis-server of its own),',
    '  or name the Redis to use with REDIS_URL.',
  ].join('\n');
}

/** A free port on the loopback interface, for a private redis-server beside one that runs already. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

/** Which Redis the gates run on and why that one, so nobody has to guess from the defaults. */
function redisInPlainWords(config: RuntimeConfig, localRedis: LocalRedis | undefined): string {
  if (localRedis) return `the private redis-server this process started, ${localRedis.url} (it stops with the gates)`;
  const where = describeRedis(config);
  if (config.REDIS_CLUSTER_NODES) return `the Redis Cluster at ${where.replace(/^cluster /, '')} (REDIS_CLUSTER_NODES)`;
  if (config.REDIS_SENTINELS) return `the Redis ${where} (REDIS_SENTINELS)`;
  if (config.REDIS_URL) return `the Redis at ${where} (REDIS_URL)`;
  if (config.REDIS_HOST) return `the Redis at ${where} (REDIS_HOST)`;
  return `the Redis already answering at ${where} (no REDIS_URL given)`;
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
