import type { RedisOptions } from 'ioredis';
import { parseRuntimeConfig, type RuntimeConfig } from '../runtime/config.js';
import { ConfigError } from '../runtime/env.js';
import { createRedisClient, describeRedis, type RedisClient } from '../runtime/redis.js';
import { OperationalError, UsageError } from './errors.js';
import type { CliIo } from './io.js';

const DEFAULT_TIMEOUT_MS = 3000;

/**
 * The runtime's settings from the same variables (REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_DB,
 * REDIS_CLUSTER_NODES, DLQ_STREAM...). A bad variable is the operator's input to fix: exit 2.
 */
export function cliConfig(io: CliIo): RuntimeConfig {
  try {
    return parseRuntimeConfig(io.env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * Unlike the runtime's connections, which wait out a Redis restart, a command connects once
 * with a short timeout and never retries: an operator (or a script) must learn at once that
 * Redis is unreachable, not watch a hung prompt.
 */
export async function connectCli(config: RuntimeConfig, timeoutMs: number): Promise<RedisClient> {
  const options: RedisOptions = {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    connectionName: 'quantum-gates:cli',
  };
  const client: RedisClient = createRedisClient(config, options, { lazyConnect: true, enableOfflineQueue: false, clusterRetryStrategy: () => null });
  // connect() only says "Connection is closed"; the error event says why (ECONNREFUSED, WRONGPASS...).
  // Listening also keeps ioredis from printing it as unhandled.
  let cause: Error | undefined;
  client.on('error', (error: Error) => {
    cause ??= error;
  });
  const timeout = new Promise<never>((_, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([client.connect(), timeout]);
    await client.ping();
  } catch (error) {
    // Once the failed connection has ended, disconnect() would only arm a 2 s destroy timer
    // that keeps the process (and the operator) waiting.
    if (client.status !== 'end') client.disconnect();
    throw new OperationalError(
      `cannot reach Redis at ${describeRedis(config)}: ${(cause ?? (error as Error)).message}\n` +
        '  Set REDIS_URL (or REDIS_HOST / REDIS_PORT / REDIS_DB) to the Redis the gates use.',
    );
  }
  return client;
}

/** Runs `fn` with a connected client and always closes it, so the process can exit on its own. */
export async function withRedis<T>(io: CliIo, fn: (redis: RedisClient, config: RuntimeConfig) => Promise<T>): Promise<T> {
  const config = cliConfig(io);
  const timeoutMs = Number(io.env.QG_REDIS_TIMEOUT_MS ?? DEFAULT_TIMEOUT_MS);
  const redis = await connectCli(config, Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : DEFAULT_TIMEOUT_MS);
  try {
    return await fn(redis, config);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
