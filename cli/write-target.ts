import type { RuntimeConfig } from '../runtime/host/config.js';
import { describeRedis, type RedisClient } from '../runtime/host/redis.js';
import type { CliIo } from './io.js';
import { cliConfig, withRedis } from './redis.js';

/**
 * withRedis for a command that writes: says first, on stderr, which Redis it writes to and where
 * that setting came from, so a write can never land on an unexpected Redis unnoticed.
 */
export async function withRedisWrite<T>(
  io: CliIo,
  fn: (redis: RedisClient, config: RuntimeConfig, target: string) => Promise<T>,
): Promise<T> {
  const config = cliConfig(io);
  const target = writeTarget(config);
  io.err(`quantum-gates: writing to Redis ${target} (settings from ${io.envFile ?? 'the environment'})`);
  return withRedis(io, (redis) => fn(redis, config, target));
}

/** host, port and db, always all three (a REDIS_URL may leave port and db implicit); never a password. */
export function writeTarget(config: RuntimeConfig): string {
  if (!config.REDIS_URL) return describeRedis(config);
  const url = new URL(config.REDIS_URL);
  const db = url.pathname.replace(/^\//, '') || '0';
  return `${url.protocol}//${url.hostname}:${url.port || '6379'}/${db}`;
}
