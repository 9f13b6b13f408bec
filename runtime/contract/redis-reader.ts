/**
 * The read-only Redis surface handlers get through ctx.redis. ioredis satisfies it; a fake ctx
 * implements it over a plain map. Writes are effects, never calls on this.
 */
export interface RedisReader {
  get(key: string): Promise<string | null>;
  mget(...keys: string[]): Promise<(string | null)[]>;
  exists(...keys: string[]): Promise<number>;
  hget(key: string, field: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  smembers(key: string): Promise<string[]>;
  scard(key: string): Promise<number>;
  zcount(key: string, min: number | string, max: number | string): Promise<number>;
  zrangebyscore(key: string, min: number | string, max: number | string): Promise<string[]>;
  /** ZRANGEBYSCORE … WITHSCORES: member, score, member, score, … */
  zrangebyscore(key: string, min: number | string, max: number | string, withScores: 'WITHSCORES'): Promise<string[]>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  /** TYPE: string, list, set, zset, hash, stream or none. */
  type(key: string): Promise<string>;
  xrevrange(key: string, end: string, start: string, countToken: 'COUNT', count: number): Promise<[id: string, fields: string[]][]>;
  /** XINFO GROUPS: rejects when the stream does not exist. */
  xinfo(subcommand: 'GROUPS', key: string): Promise<unknown>;
  /** XPENDING summary: [count, lowest id, highest id, consumers]. */
  xpending(key: string, group: string): Promise<unknown[]>;
  scan(
    cursor: string | number,
    matchToken: 'MATCH',
    pattern: string,
    countToken: 'COUNT',
    count: number,
  ): Promise<[cursor: string, keys: string[]]>;
  /**
   * Runs a read-only Lua script (EVAL_RO, Redis 7): several dependent reads in one round trip.
   * Callers keep a plain fallback, since Redis Cluster refuses scripts touching undeclared keys.
   */
  eval_ro(script: string, numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
}
