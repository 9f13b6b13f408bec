import type { Fields, RedisReader } from '../../runtime/contract/index.js';

/**
 * What a handler's reads find in a unit test: a few keys by type. Streams oldest first; a sorted
 * set maps member to score; lists head first.
 */
export interface FakeRedisData {
  readonly strings?: Readonly<Record<string, string>>;
  readonly hashes?: Readonly<Record<string, Fields>>;
  readonly sets?: Readonly<Record<string, readonly string[]>>;
  readonly sortedSets?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly lists?: Readonly<Record<string, readonly string[]>>;
  readonly streams?: Readonly<Record<string, readonly { readonly id: string; readonly fields: Fields }[]>>;
  /** INFO memory's maxmemory_policy (noeviction unless set), or the error INFO is refused with. */
  readonly maxmemoryPolicy?: string | Error;
}

function parseBound(bound: number | string): { value: number; exclusive: boolean } {
  if (typeof bound === 'number') return { value: bound, exclusive: false };
  if (bound === '-inf') return { value: -Infinity, exclusive: false };
  if (bound === '+inf' || bound === 'inf') return { value: Infinity, exclusive: false };
  if (bound.startsWith('(')) return { value: Number(bound.slice(1)), exclusive: true };
  return { value: Number(bound), exclusive: false };
}

function inRange(score: number, min: number | string, max: number | string): boolean {
  const lo = parseBound(min);
  const hi = parseBound(max);
  const aboveMin = lo.exclusive ? score > lo.value : score >= lo.value;
  const belowMax = hi.exclusive ? score < hi.value : score <= hi.value;
  return aboveMin && belowMax;
}

/** A RedisReader over a few keys in memory, for handler unit tests (fake-ctx.ts). Reads only. */
export class FakeRedisReader implements RedisReader {
  constructor(private readonly data: FakeRedisData) {}

  async get(key: string) {
    return this.data.strings?.[key] ?? null;
  }
  async mget(...keys: string[]) {
    return keys.map((k) => this.data.strings?.[k] ?? null);
  }
  async exists(...keys: string[]) {
    return keys.filter(
      (k) =>
        k in (this.data.strings ?? {}) ||
        k in (this.data.hashes ?? {}) ||
        k in (this.data.sets ?? {}) ||
        k in (this.data.sortedSets ?? {}) ||
        k in (this.data.streams ?? {}) ||
        k in (this.data.lists ?? {}),
    ).length;
  }
  async type(key: string) {
    const kinds = [
      ['string', this.data.strings],
      ['hash', this.data.hashes],
      ['set', this.data.sets],
      ['zset', this.data.sortedSets],
      ['stream', this.data.streams],
      ['list', this.data.lists],
    ] as const;
    for (const [name, map] of kinds) if (map && key in map) return name;
    return 'none';
  }
  /** As Redis: a key of another type is an error, not an empty value of the type read. */
  private async ofType(key: string, want: string): Promise<void> {
    const type = await this.type(key);
    if (type !== want && type !== 'none') throw new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
  }
  async lrange(key: string, start: number, stop: number) {
    await this.ofType(key, 'list');
    const list = this.data.lists?.[key] ?? [];
    return list.slice(start, stop < 0 ? list.length + stop + 1 : stop + 1);
  }
  async hget(key: string, field: string) {
    return this.data.hashes?.[key]?.[field] ?? null;
  }
  async hgetall(key: string) {
    return { ...(this.data.hashes?.[key] ?? {}) };
  }
  async hmget(key: string, ...fields: string[]) {
    await this.ofType(key, 'hash');
    return fields.map((f) => this.data.hashes?.[key]?.[f] ?? null);
  }
  async smembers(key: string) {
    await this.ofType(key, 'set');
    return [...(this.data.sets?.[key] ?? [])];
  }
  async sismember(key: string, member: string) {
    await this.ofType(key, 'set');
    return this.data.sets?.[key]?.includes(member) ? 1 : 0;
  }
  async scard(key: string) {
    return this.data.sets?.[key]?.length ?? 0;
  }
  async zcount(key: string, min: number | string, max: number | string) {
    return Object.values(this.data.sortedSets?.[key] ?? {}).filter((s) => inRange(s, min, max)).length;
  }
  async zrangebyscore(key: string, min: number | string, max: number | string, ...rest: [] | ['WITHSCORES'] | ['LIMIT', number, number]) {
    await this.ofType(key, 'zset');
    const inScores = Object.entries(this.data.sortedSets?.[key] ?? {})
      .filter(([, s]) => inRange(s, min, max))
      .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
    const sorted = rest[0] === 'LIMIT' ? inScores.slice(rest[1], rest[1] + rest[2]) : inScores;
    return rest[0] === 'WITHSCORES' ? sorted.flatMap(([m, s]) => [m, String(s)]) : sorted.map(([m]) => m);
  }
  /** INFO memory as Redis writes it, with the policy the test set (noeviction by default). */
  async info(_section: 'memory'): Promise<string> {
    const policy = this.data.maxmemoryPolicy ?? 'noeviction';
    if (policy instanceof Error) throw policy;
    return `# Memory\r\nused_memory:1000000\r\nmaxmemory:0\r\nmaxmemory_policy:${policy}\r\n`;
  }
  async xinfo(_subcommand: 'GROUPS', key: string): Promise<unknown> {
    if (!(key in (this.data.streams ?? {}))) throw new Error('ERR no such key');
    return [];
  }
  async xpending(): Promise<unknown[]> {
    return [0, null, null, null];
  }
  /** One page holding every matching key of every type. */
  async scan(_cursor: string | number, _match: 'MATCH', pattern: string): Promise<[string, string[]]> {
    const prefix = pattern.endsWith('*') ? pattern.slice(0, -1) : pattern;
    const all = [this.data.strings, this.data.hashes, this.data.sets, this.data.sortedSets, this.data.streams, this.data.lists].flatMap(
      (m) => Object.keys(m ?? {}),
    );
    return ['0', all.filter((k) => (pattern.endsWith('*') ? k.startsWith(prefix) : k === pattern))];
  }
  async xrevrange(key: string, _end: string, _start: string, _count: 'COUNT', count: number): Promise<[string, string[]][]> {
    const entries = [...(this.data.streams?.[key] ?? [])].reverse().slice(0, count);
    return entries.map((e) => [e.id, Object.entries(e.fields).flat()]);
  }
}
