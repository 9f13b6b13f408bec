import { Cluster } from 'ioredis';
import type { RedisReader } from '../contract/redis-reader.js';
import type { RedisClient } from '../engine/connection.js';

/**
 * ctx.redis in the runtime: the commands connection's own commands, a reader of its own around the
 * client (the client itself is left as ioredis made it), with two reads the client does not give as
 * a gate needs them:
 * - `info('memory')`, the governor's eviction check (handlers/governor/eviction.ts): on one node as
 *   `call('INFO', 'memory')`, since ioredis leaves its own `info` out of the auto-pipeline and it
 *   went as a write of its own, apart from the rest of the plan's state
 *   (test/integration/governor-round-trips.test.ts); on a cluster, every master's section, one
 *   after another (each headed `# node host:port`), where ioredis would ask one random node. Each
 *   master evicts its own keys under its own maxmemory-policy, and one decision's keys live on
 *   several. Replicas are not read: they evict nothing of their own (replica-ignore-maxmemory).
 * - `keysToRead` and `cachedReads`, the key watches' (key-watch.ts), when the runtime has them.
 */
export class GateReader implements RedisReader {
  readonly keysToRead?: RedisReader['keysToRead'];
  readonly cachedReads?: RedisReader['cachedReads'];

  constructor(
    private readonly client: RedisClient,
    watches?: Required<Pick<RedisReader, 'keysToRead' | 'cachedReads'>>,
  ) {
    this.keysToRead = watches?.keysToRead.bind(watches);
    this.cachedReads = watches?.cachedReads.bind(watches);
  }

  async info(section: 'memory'): Promise<string> {
    const { client } = this;
    if (!(client instanceof Cluster)) return (await client.call('INFO', section)) as string;
    const sections = await Promise.all(
      client.nodes('master').map(async (node) => `# node ${node.options.host}:${node.options.port}\r\n${await node.info(section)}`),
    );
    return sections.join('\r\n');
  }

  // The rest as the client sends them.
  get = (key: string) => this.client.get(key);
  exists = (...keys: string[]) => this.client.exists(...keys);
  hget = (key: string, field: string) => this.client.hget(key, field);
  hgetall = (key: string) => this.client.hgetall(key);
  hmget = (key: string, ...fields: string[]) => this.client.hmget(key, ...fields);
  smembers = (key: string) => this.client.smembers(key);
  sismember = (key: string, member: string) => this.client.sismember(key, member);
  zcount = (key: string, min: number | string, max: number | string) => this.client.zcount(key, min, max);
  zrangebyscore = (key: string, min: number | string, max: number | string, ...rest: [] | ['WITHSCORES'] | ['LIMIT', number, number]) =>
    this.client.call('ZRANGEBYSCORE', key, min, max, ...rest) as Promise<string[]>;
  lrange = (key: string, start: number, stop: number) => this.client.lrange(key, start, stop);
  type = (key: string) => this.client.type(key);
  xrevrange = (key: string, end: string, start: string, countToken: 'COUNT', count: number) =>
    this.client.xrevrange(key, end, start, countToken, count);
  xinfo = (subcommand: 'GROUPS', key: string) => this.client.xinfo(subcommand, key);
  xpending = (key: string, group: string) => this.client.xpending(key, group);
  scan = (cursor: string | number, matchToken: 'MATCH', pattern: string, countToken: 'COUNT', count: number) =>
    this.client.scan(cursor, matchToken, pattern, countToken, count);
}
