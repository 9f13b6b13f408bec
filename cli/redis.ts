import { parseRuntimeConfig, type RuntimeConfig } from '../runtime/host/config.js';
import { ConfigError } from '../runtime/contract/env.js';
import type { RedisClient } from '../runtime/host/redis.js';
import { connectVerified, RedisWiringError } from '../runtime/host/redis-preflight.js';
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
 * Redis is unreachable, not watch a hung prompt. It also proves the password and the database
 * (ioredis alone would carry on in database 0), and the message names the variable to fix.
 */
export async function connectCli(config: RuntimeConfig, timeoutMs: number): Promise<RedisClient> {
  try {
    return await connectVerified(config, timeoutMs, 'quantum-gates:cli');
  } catch (error) {
    if (error instanceof RedisWiringError) throw new OperationalError(error.message);
    throw error;
  }
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
