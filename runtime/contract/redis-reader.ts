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
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  type(key: string): Promise<string>; // string, list, set, zset, hash, stream or none
  xrevrange(key: string, end: string, start: string, countToken: 'COUNT', count: number): Promise<[id: string, fields: string[]][]>;
  xinfo(subcommand: 'GROUPS', key: string): Promise<unknown>; // rejects when the stream does not exist
  xpending(key: string, group: string): Promise<unknown[]>; // [count, lowest id, highest id, consumers]
  scan(
    cursor: string | number,
    matchToken: 'MATCH',
    pattern: string,
    countToken: 'COUNT',
    count: number,
  ): Promise<[cursor: string, keys: string[]]>;
  /**
   * INFO's memory section (its `maxmemory_policy` line: whether Redis may evict keys). On Redis
   * Cluster the runtime's reader answers with every master's section, one after another
   * (runtime/host/gate-reader.ts), so no node is left unread.
   */
  info(section: 'memory'): Promise<string>;
  /**
   * The keys of the key watch `name` (KeyWatchDeclaration) a decision must read, every write Redis
   * made before this call seen; null while the watch is not known to be live (not subscribed yet,
   * reconnecting, keyspace events off, Redis Cluster): then read every key the gate can list.
   * Absent on readers without watches (a fake ctx, the CLI): the same as null.
   */
  keysToRead?(name: string): Promise<readonly string[] | null>;
  /** Several dependent reads in one round trip; callers keep a plain fallback (Cluster refuses undeclared keys). */
  eval_ro(script: string, numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
}

/**
 * One read as its command and arguments (`['HMGET', key, field, …]`), for a list of reads made
 * together. Only the commands `sendRead` knows; the key is the second element, EXISTS's keys all after it.
 */
export type ReadCommand = readonly [command: 'GET' | 'HGET' | 'HMGET' | 'LRANGE' | 'EXISTS', key: string, ...args: string[]];

/** Sends one read as the client's own command: the plain path, exactly as a caller reading alone. */
export function sendRead(redis: RedisReader, read: ReadCommand): Promise<unknown> {
  switch (read[0]) {
    case 'GET':
      return redis.get(read[1]);
    case 'HGET':
      return redis.hget(read[1], read[2]!);
    case 'HMGET':
      return redis.hmget(read[1], ...read.slice(2));
    case 'LRANGE':
      return redis.lrange(read[1], Number(read[2]), Number(read[3]));
    case 'EXISTS':
      return redis.exists(...read.slice(1));
  }
}
