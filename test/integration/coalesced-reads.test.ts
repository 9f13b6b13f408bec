import { describe, expect, it } from 'vitest';
import { coalescedReader } from '../../handlers/governor/coalesced-reads.js';
import type { RedisReader } from '../../runtime/contract/index.js';
import type { ReadCommand } from '../../handlers/positions/read-commands.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { startTestRedisCluster } from '../support/redis-cluster.js';

/** Settles a read into what a caller sees: its reply, or its error's message. */
const settled = (read: Promise<unknown>) =>
  read.then(
    (reply) => ({ reply }),
    (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
  );

describe('coalescedReader on a real redis-server (issue #24 item 5)', () => {
  const redis = usePrivateRedis();

  async function arrange() {
    const r = redis.client;
    await r.set('s:number', '1763900000.123');
    await r.set('s:empty', '');
    await r.hset('h:budget', { budget_usd: '1000', timestamp: '1763900000', mode: 'testnet' });
    await r.rpush('l:history', '3', '2', '1');
    await r.zadd('z:history', 1, 'a', 2, 'b');
    await r.sadd('set:x', 'm');
  }

  /** Reads of every kind and outcome the governor makes: present, absent, empty, of another type. */
  const reads = (reader: RedisReader) => [
    reader.get('s:number'),
    reader.get('s:missing'),
    reader.get('s:empty'),
    reader.get('l:history'), // WRONGTYPE
    reader.hmget('h:budget', 'budget_usd', 'timestamp', 'mode', 'missing'),
    reader.hmget('h:missing', 'a', 'b'),
    reader.hmget('s:number', 'a'), // WRONGTYPE
    reader.lrange('l:history', 0, -1),
    reader.lrange('l:missing', 0, -1),
    reader.lrange('z:history', 0, -1), // WRONGTYPE
    reader.exists('s:number'),
    reader.exists('s:missing', 'set:x', 'h:budget'),
    reader.hget('h:budget', 'mode'),
    reader.hget('h:budget', 'missing'),
    reader.hget('h:missing', 'sigma'),
    reader.hget('s:number', 'sigma'), // WRONGTYPE
  ];

  /** The reads of `reads` above as commands, for readMany. */
  const commands: ReadCommand[] = [
    ['GET', 's:number'],
    ['GET', 's:missing'],
    ['GET', 's:empty'],
    ['GET', 'l:history'],
    ['HMGET', 'h:budget', 'budget_usd', 'timestamp', 'mode', 'missing'],
    ['HMGET', 'h:missing', 'a', 'b'],
    ['HMGET', 's:number', 'a'],
    ['LRANGE', 'l:history', '0', '-1'],
    ['LRANGE', 'l:missing', '0', '-1'],
    ['LRANGE', 'z:history', '0', '-1'],
    ['EXISTS', 's:number'],
    ['EXISTS', 's:missing', 'set:x', 'h:budget'],
    ['HGET', 'h:budget', 'mode'],
    ['HGET', 'h:budget', 'missing'],
    ['HGET', 'h:missing', 'sigma'],
    ['HGET', 's:number', 'sigma'],
  ];
  /** A composite reply as the single reads settle: each reply, or its error's message. */
  const asSettled = (replies: unknown[]) => replies.map((r) => (r instanceof Error ? { error: r.message } : { reply: r }));

  it('answers every read, errors included, exactly as the same reads sent one by one', async () => {
    await arrange();
    const plain = await Promise.all(reads(redis.client as unknown as RedisReader).map(settled));
    const sent: unknown[][] = [];
    const client = redis.client as unknown as RedisReader;
    // Watches what goes to Redis: the script, once, for all sixteen (two composite reads of one turn).
    const watched = new Proxy(client, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          sent.push([property, ...args]);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const reader = coalescedReader(watched);
    const [first, rest] = await Promise.all([reader.readMany(commands.slice(0, 1)), reader.readMany(commands.slice(1))]);
    const coalesced = asSettled([...first, ...rest]);
    expect(coalesced).toEqual(plain);
    expect(plain.filter((p) => 'error' in p)).toHaveLength(4);
    expect(sent.map((s) => s[0])).toEqual(['eval_ro']);
  });

  it('turns to plain reads where the script is refused (Redis Cluster, a Redis without EVAL_RO), with the same answers', async () => {
    await arrange();
    const client = redis.client as unknown as RedisReader;
    const refusing = new Proxy(client, {
      get(target, property) {
        if (property === 'eval_ro') return () => Promise.reject(new Error("CROSSSLOT Keys in request don't hash to the same slot"));
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const plain = await Promise.all(reads(client).map(settled));
    const reader = coalescedReader(refusing);
    expect(asSettled(await reader.readMany(commands))).toEqual(plain);
    // And again: the reader remembers, and answers the same.
    expect(asSettled(await reader.readMany(commands))).toEqual(plain);
  });

  it('readMany answers one array of every reply, each error in its own place, as the reads sent one by one', async () => {
    await arrange();
    const client = redis.client as unknown as RedisReader;
    const plain = await Promise.all(reads(client).map(settled));
    const reader = coalescedReader(client);
    // With another composite read of the same turn (one script for both), and alone.
    const [many, single] = await Promise.all([reader.readMany(commands), reader.readMany([['GET', 's:number']])]);
    expect(asSettled(many)).toEqual(plain);
    expect(single).toEqual(['1763900000.123']);
    expect(asSettled(await reader.readMany(commands))).toEqual(plain);
    // Where the script is refused: each read sent alone, errors still in place.
    const refusing = new Proxy(client, {
      get(target, property) {
        if (property === 'eval_ro') return () => Promise.reject(new Error('ERR unknown command'));
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    expect(asSettled(await coalescedReader(refusing).readMany(commands))).toEqual(plain);
  });

  it('on Redis Cluster, even through a client that does not say it is one, answers what plain reads answer', async () => {
    const cluster = await startTestRedisCluster();
    try {
      const r = cluster.client;
      // Keys in different slots (on different nodes): a script sent to one node must not answer for them.
      const names = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'ADAUSDT'];
      for (const [i, name] of names.entries()) {
        await r.set(`quantum:governor:last_exec:${name}`, String(i + 1));
        await r.hset(`quantum:budget:${name}`, { budget_usd: String(100 * (i + 1)) });
      }
      const client = r as unknown as RedisReader;
      const hidden = new Proxy(client, {
        get(target, property) {
          if (property === 'isCluster') return undefined;
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const clusterReads = (reader: RedisReader) =>
        names.flatMap((name) => [
          reader.get(`quantum:governor:last_exec:${name}`),
          reader.hmget(`quantum:budget:${name}`, 'budget_usd'),
          reader.hget(`quantum:budget:${name}`, 'budget_usd'),
        ]);
      const plain = await Promise.all(clusterReads(client).map(settled));
      expect(plain[0]).toEqual({ reply: '1' });
      // A composite read across slots answers the same, each reply in its place.
      const composite: ReadCommand[] = names.flatMap((name): ReadCommand[] => [
        ['GET', `quantum:governor:last_exec:${name}`],
        ['HMGET', `quantum:budget:${name}`, 'budget_usd'],
        ['HGET', `quantum:budget:${name}`, 'budget_usd'],
      ]);
      expect(asSettled(await coalescedReader(client).readMany(composite))).toEqual(plain);
      expect(asSettled(await coalescedReader(hidden).readMany(composite))).toEqual(plain);
    } finally {
      await cluster.stop();
    }
  });
});
