import type { Redis } from 'ioredis';

/**
 * What each of `keys` holds, sorted by key: its type, its contents (a set sorted, a stream's
 * entries without their ids) and whether it expires; an absent key is left out. For comparing what
 * two runs left in Redis.
 */
export async function keyContents(redis: Redis, keys: readonly string[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of [...keys].sort()) {
    const type = await redis.type(key);
    if (type === 'none') continue;
    const expires = (await redis.pttl(key)) > 0;
    const value =
      type === 'string'
        ? await redis.get(key)
        : type === 'list'
          ? await redis.lrange(key, 0, -1)
          : type === 'zset'
            ? await redis.zrange(key, '0', '-1', 'WITHSCORES')
            : type === 'hash'
              ? await redis.hgetall(key)
              : type === 'set'
                ? (await redis.smembers(key)).sort()
                : type === 'stream'
                  ? (await redis.xrange(key, '-', '+')).map(([, fields]) => fields)
                  : undefined;
    out[key] = { type, value, expires };
  }
  return out;
}
