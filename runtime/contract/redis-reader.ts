/** ctx.redis: read-only, since writes are effects. ioredis satisfies it; a fake ctx implements it over a map. */
export interface RedisReader {
  get(key: string): Promise<string | null>;
  exists(...keys: string[]): Promise<number>;
  hget(key: string, field: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  smembers(key: string): Promise<string[]>;
  sismember(key: string, member: string): Promise<number>;
  zcount(key: string, min: number | string, max: number | string): Promise<number>;
  zrangebyscore(key: string, min: number | string, max: number | string): Promise<string[]>;
  zrangebyscore(key: string, min: number | string, max: number | string, withScores: 'WITHSCORES'): Promise<string[]>; // member, score, …
  zrangebyscore(key: string, min: number | string, max: number | string, limit: 'LIMIT', offset: number, count: number): Promise<string[]>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  type(key: string): Promise<string>; // string, list, set, zset, hash, stream or none
  xrevrange(key: string, end: string, start: string, countToken: 'COUNT', count: number): Promise<[id: string, fields: string[]][]>;
  xinfo(subcommand: 'GROUPS', key: string): Promise<unknown>; // rejects when the stream does not exist
  xpending(key: string, group: string): Promise<unknown[]>; // [count, lowest id, highest id, consumers]
  scan(cursor: string, matchToken: 'MATCH', pattern: string, countToken: 'COUNT', count: number): Promise<[cursor: string, keys: string[]]>;
  /** INFO's memory section (`maxmemory_policy`); on Redis Cluster every master's, one after another. */
  info(section: 'memory'): Promise<string>;
  /** The keys of key watch `name` a decision must read, every earlier write seen; null (or absent) while not live: read all. */
  keysToRead?(name: string): Promise<readonly string[] | null>;
  /** `reads`' replies (a key's WRONGTYPE an Error in its place), kept ones as fresh as this decision's keysToRead; null: read them. */
  cachedReads?(name: string, reads: readonly ReadCommand[]): Promise<unknown[] | null>;
}

/** One read (`['HMGET', key, field, …]`) of the commands `sendRead` knows; EXISTS's keys all after `key`. */
export type ReadCommand = readonly [command: ReadName, key: string, ...args: string[]];
type ReadName = 'GET' | 'HGET' | 'HMGET' | 'HGETALL' | 'LRANGE' | 'EXISTS' | 'SMEMBERS' | 'SISMEMBER' | 'ZRANGEBYSCORE';

/** Sends one read as the client's own command: the plain path, exactly as a caller reading alone. */
export function sendRead(redis: RedisReader, [command, key, ...args]: ReadCommand): Promise<unknown> {
  if (command === 'GET') return redis.get(key);
  if (command === 'HGET') return redis.hget(key, args[0]!);
  if (command === 'LRANGE') return redis.lrange(key, Number(args[0]), Number(args[1]));
  if (command === 'HGETALL') return redis.hgetall(key);
  if (command === 'SMEMBERS') return redis.smembers(key);
  if (command === 'SISMEMBER') return redis.sismember(key, args[0]!);
  if (command === 'ZRANGEBYSCORE') return redis.zrangebyscore(key, args[0]!, args[1]!);
  return command === 'HMGET' ? redis.hmget(key, ...args) : redis.exists(key, ...args);
}
