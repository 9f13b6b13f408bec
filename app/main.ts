import { allHandlers } from '../handlers/index.js';
import { packageRoot } from '../runtime/build-info.js';
import { checkHttpEnv, httpPlugins } from './http-plugins.js';
import { parseRuntimeConfig, redisIsConfigured, type RuntimeConfig } from '../runtime/config.js';
import { ConfigError } from '../runtime/env.js';
import { isListening, redisServerAvailable, startLocalRedis, type LocalRedis } from '../runtime/local-redis.js';
import { preflightRedis, redactSecrets, RedisWiringError } from '../runtime/redis-preflight.js';
import { createRuntime, loadConfiguration } from '../runtime/runtime.js';
import { describeRedis } from '../runtime/redis.js';
import { disabledMessage, hasCredentials, parseDashboardAuth } from '../runtime/http/auth.js';

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
  if (!redisIsConfigured(runtimeConfig) && !(await isListening('127.0.0.1', runtimeConfig.REDIS_PORT))) {
    if (!redisServerAvailable()) {
      console.error(
        'quantum-gates: no Redis answers on 127.0.0.1:6379, REDIS_URL is not set, and redis-server is not installed.\n' +
          '  Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)\n' +
          '  or point REDIS_URL at a running Redis, e.g. REDIS_URL=redis://host:6379/0 npm start',
      );
      process.exit(1);
    }
    localRedis = await startLocalRedis(projectRoot, runtimeConfig.REDIS_PORT);
    // REDIS_HOST rather than a URL, so REDIS_DB and REDIS_PASSWORD still apply to it.
    env.REDIS_HOST = '127.0.0.1';
    console.error(
      `quantum-gates: no Redis was running, so started a private redis-server at ${localRedis.url} (data in ${localRedis.dataDir})`,
    );
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

/** Where the status page is and who may open it. */
function statusPageLine(env: Readonly<Record<string, string | undefined>>, host: string, address: string): string {
  const auth = parseDashboardAuth(env, host);
  if (hasCredentials(auth)) return `status page ${address}/ (with the dashboard credentials), BullMQ dashboard ${address}/admin/queues`;
  if (auth.loopbackStatus) return `status page ${address}/ (read-only, open to this machine only)`;
  return `status page off: ${disabledMessage('status')}`;
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
