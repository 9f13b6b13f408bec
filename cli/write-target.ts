import type { RuntimeConfig, RedisClient } from '../runtime/host/index.js';
import { redisAddress } from '../app/cli-door.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { cliRedis, withConnection } from './redis.js';

/**
 * withRedis for a command that writes: says first, on stderr, which Redis it writes to and where
 * that setting came from, and refuses to write to a Redis that nothing named (the default
 * 127.0.0.1:6379 may be anybody's), so a write can never land on an unexpected Redis.
 */
export async function withRedisWrite<T>(
  io: CliIo,
  fn: (redis: RedisClient, config: RuntimeConfig, target: string) => Promise<T>,
): Promise<T> {
  const { config, namedBy, alsoRunning } = await cliRedis(io);
  const target = writeTarget(config);
  if (namedBy === undefined)
    throw new UsageError(
      `nothing named a Redis to write to (no REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_CLUSTER_NODES or REDIS_SENTINELS, no env file, no npm start running in this checkout), ` +
        `and the default ${target} may be anybody's: set REDIS_URL=redis://host:port/db or pass --env-file PATH; nothing was written`,
    );
  if (alsoRunning !== undefined)
    throw new UsageError(
      `two Redis could be meant: ${io.envFile} names ${target}, and ${alsoRunning}; ` +
        `say which: --env-file ${io.envFile}, REDIS_URL=redis://host:port/db, or --private for the checkout's; nothing was written`,
    );
  io.err(`quantum-gates: writing to Redis ${target} (${namedBy})`);
  return withConnection(io, config, (redis) => fn(redis, config, target));
}

/** host, port and db, always all three (a REDIS_URL may leave port and db implicit); never a password. */
export const writeTarget = (config: RuntimeConfig): string => redisAddress(config);
