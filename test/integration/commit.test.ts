import { commitAndReport } from '../support/commit-report.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TransactionCommitter } from '../../runtime/engine/commit.js';
import { EffectRecorder } from '../../runtime/engine/effects.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

function recorder(build: (r: EffectRecorder) => void): EffectRecorder {
  const r = new EffectRecorder();
  build(r);
  return r;
}

describe('TransactionCommitter on a real redis-server', () => {
  let redis: TestRedis;
  let connection: Redis;

  beforeAll(async () => {
    redis = await startTestRedis();
    connection = new Redis(redis.url);
  });
  afterAll(async () => {
    connection.disconnect();
    await redis.stop();
  });
  beforeEach(async () => {
    await redis.client.flushall();
    await redis.client.xgroup('CREATE', 's', 'g', '0', 'MKSTREAM');
  });

  async function deliver(count: number): Promise<string[]> {
    for (let i = 0; i < count; i++) await redis.client.xadd('s', '*', 'n', String(i));
    const reply = (await redis.client.xreadgroup('GROUP', 'g', 'c', 'COUNT', count, 'STREAMS', 's', '>')) as [
      string,
      [string, string[]][],
    ][];
    return reply[0]![1].map(([id]) => id);
  }

  it('commits effects, dead letters and the ack together', async () => {
    const [a, b] = await deliver(2);
    const committer = new TransactionCommitter(connection, 0);
    const report = await commitAndReport(committer, { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: recorder((r) => r.emit('out', { n: '0' })) },
      { entryId: b, extraEmits: [{ stream: 'dlq', fields: { reason: 'x' }, maxLen: 0 }] },
    ]);
    expect(report).toEqual({ committed: [0, 1], conflicted: [], lost: [], superseded: [], withheld: [], waiting: [], effectFailures: [] });
    expect(await redis.client.xlen('out')).toBe(1);
    expect(await redis.client.xlen('dlq')).toBe(1);
    expect((await redis.client.xpending('s', 'g'))[0]).toBe(0);
  });

  it('owns every entry of a batch given out of stream order (the script reads this consumer’s pending list from its lowest to its highest id)', async () => {
    const [a, b, c, d, e] = await deliver(5);
    const report = await commitAndReport(
      new TransactionCommitter(connection, 0),
      { stream: 's', group: 'g', consumer: 'c' },
      [c, a, e, b, d].map((id) => ({ entryId: id, recorder: recorder((r) => r.emit('out', { id: id! })) })),
    );
    expect(report).toEqual({
      committed: [0, 1, 2, 3, 4],
      conflicted: [],
      lost: [],
      superseded: [],
      withheld: [],
      waiting: [],
      effectFailures: [],
    });
    expect((await redis.client.xrange('out', '-', '+')).map(([, f]) => f[1])).toEqual([c, a, e, b, d]);
    expect((await redis.client.xpending('s', 'g'))[0]).toBe(0);
  });

  it('reports each conflicting message once when a guard fails and another guarded key changes before the commit', async () => {
    const [a, b, c] = await deliver(3);
    // 'off' guards are the ones the committer reads before the script (absent and equals guards are checked inside it).
    await redis.client.set('taken', 'on');
    // A guarded key is written between the committer's read of it and the commit script, which
    // then refuses its message: right after the read, on the committer's own connection, so it
    // lands there whatever the timing.
    const meddling = new Proxy(connection, {
      get(target, prop) {
        if (prop === 'eval')
          return async (...args: Parameters<Redis['eval']>) => {
            const read = await target.eval(...args);
            await target.set('free', 'stolen');
            return read;
          };
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const report = await commitAndReport(new TransactionCommitter(meddling, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: recorder((r) => (r.require('taken', { is: 'off', offValues: ['off'] }), r.emit('out', { n: 'a' }))) },
      { entryId: b, recorder: recorder((r) => (r.require('free', { is: 'off', offValues: ['off'] }), r.emit('out', { n: 'b' }))) },
      { entryId: c, recorder: recorder((r) => r.emit('out', { n: 'c' })) },
    ]);
    expect(report.conflicted).toEqual([0, 1]);
    expect(report.committed).toEqual([2]);
    expect((await redis.client.xrange('out', '-', '+')).map(([, f]) => f[1])).toEqual(['c']);
  });

  it('re-runs a message guarding a key an earlier message of the commit writes, and applies nothing of it', async () => {
    const [a, b, c] = await deliver(3);
    await redis.client.set('version', '7');
    const bump = (from: string, to: string) =>
      recorder((r) => (r.require('version', { is: 'holding', value: from }), r.put('version', to), r.emit('out', { to })));
    // The first's guard fails (7, not 1); the second guards the key the first writes; the third is independent.
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: bump('1', '2') },
      { entryId: b, recorder: bump('2', '3') },
      { entryId: c, recorder: recorder((r) => r.emit('out', { to: 'other' })) },
    ]);
    expect(report.committed).toEqual([2]);
    expect(report.conflicted).toEqual([0, 1]);
    expect(await redis.client.get('version')).toBe('7');
    expect(await redis.client.xlen('out')).toBe(1);
  });

  it('a message guarding a key an earlier (reclaimed) message of the commit writes applies nothing', async () => {
    const [a, b] = await deliver(2);
    await redis.client.set('version', '1');
    // Another consumer takes the first entry: its writes are skipped, and the second guards the key it writes.
    await redis.client.xclaim('s', 'g', 'other', 0, a!);
    const bump = (from: string, to: string) =>
      recorder((r) => (r.require('version', { is: 'holding', value: from }), r.put('version', to)));
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: bump('1', '2') },
      { entryId: b, recorder: bump('2', '3') },
    ]);
    expect(report.lost).toEqual([0]);
    expect(report.conflicted).toEqual([1]);
    expect(report.committed).toEqual([]);
    expect(await redis.client.get('version')).toBe('1');
  });

  it('applies nothing of a message whose guard no longer holds', async () => {
    const [a] = await deliver(1);
    await redis.client.set('version', '2');
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      {
        entryId: a,
        recorder: recorder((r) => (r.require('version', { is: 'holding', value: '1' }), r.put('version', '2'), r.emit('out', { n: 'a' }))),
      },
    ]);
    expect(report).toMatchObject({ committed: [], conflicted: [0] });
    expect(await redis.client.exists('out')).toBe(0);
    expect((await redis.client.xpending('s', 'g'))[0]).toBe(1);
  });

  it.each([
    ['a hash', (r: Redis) => r.hset('k', 'f', 'v')],
    ['a set', (r: Redis) => r.sadd('k', 'm')],
    ['a string', (r: Redis) => r.set('k', 'v')],
  ])('sees a guarded key that exists as %s (an absent guard conflicts)', async (_kind, create) => {
    const [a] = await deliver(1);
    await create(redis.client);
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: recorder((r) => (r.require('k', { is: 'absent' }), r.emit('out', { n: 'a' }))) },
    ]);
    expect(report.conflicted).toEqual([0]);
    expect(await redis.client.exists('out')).toBe(0);
  });

  it('withholds a message whose write Redis would reject: none of its writes, no ack; the others commit', async () => {
    const [a, b] = await deliver(2);
    await redis.client.set('not-a-hash', 'x');
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: recorder((r) => (r.emit('out', { n: 'a' }), r.put('not-a-hash', { f: 'v' }))) },
      { entryId: b, recorder: recorder((r) => r.emit('out', { n: 'b' })) },
    ]);
    expect(report.committed).toEqual([1]);
    expect(report.withheld).toEqual([0]);
    expect(report.effectFailures).toHaveLength(1);
    // The put runs first (appends go last): its key's type is not asked ahead, its refusal names it as the check would.
    expect(report.effectFailures[0]!.error.message).toBe('WRONGTYPE not-a-hash holds a string, not a hash');
    expect((await redis.client.xrange('out', '-', '+')).map(([, f]) => f[1])).toEqual(['b']);
    const pending = (await redis.client.xpending('s', 'g', '-', '+', 10)) as [string][];
    expect(pending.map(([id]) => id)).toEqual([a]);
  });

  it("owns its entries past the first page of the group's pending entries, and records the group's restart point before the oldest still pending", async () => {
    // 100 entries another consumer holds, older than the batch: the script's first read of the
    // pending list (the batch's size and 64 more) ends before the batch's entries.
    const held = await deliver(100);
    await redis.client.xclaim('s', 'g', 'other', 0, ...held);
    const [a, b] = await deliver(2);
    const report = await commitAndReport(
      new TransactionCommitter(connection, 0),
      { stream: 's', group: 'g', consumer: 'c', cursorKey: 'cursor' },
      [a, b].map((id) => ({ entryId: id, recorder: recorder((r) => r.emit('out', { id: id! })) })),
    );
    expect(report.committed).toEqual([0, 1]);
    expect((await redis.client.xpending('s', 'g'))[0]).toBe(100);
    expect(await redis.client.hget('cursor', 'g')).toBe(`(${held[0]}`);
    // Nothing pending after: after the newest acknowledged.
    await redis.client.xack('s', 'g', ...held);
    const [c] = await deliver(1);
    await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c', cursorKey: 'cursor' }, [
      { entryId: c, recorder: recorder((r) => r.emit('out', { id: c! })) },
    ]);
    expect(await redis.client.hget('cursor', 'g')).toBe(c);
  });

  it('out of memory, writes nothing of the batch: a write Redis never refuses (DEL) cannot let a later write of a refused message through', async () => {
    const [a] = await deliver(1);
    await redis.client.set('gone', '1');
    await redis.client.config('SET', 'maxmemory-policy', 'noeviction');
    await redis.client.config('SET', 'maxmemory', '1');
    try {
      const commit = commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
        { entryId: a, recorder: recorder((r) => (r.put('h', { f: 'v' }), r.remove('gone'), r.emit('out', { n: 'a' }))) },
      ]);
      await expect(commit).rejects.toThrow(/OOM/);
    } finally {
      await redis.client.config('SET', 'maxmemory', '0');
    }
    expect(await redis.client.exists('h', 'out')).toBe(0);
    expect(await redis.client.get('gone')).toBe('1');
    expect((await redis.client.xpending('s', 'g'))[0]).toBe(1);
  });

  it('a dead letter that cannot be written keeps its message pending', async () => {
    const [a] = await deliver(1);
    await redis.client.set('dlq', 'x');
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, extraEmits: [{ stream: 'dlq', fields: { reason: 'x' }, maxLen: 0 }] },
    ]);
    expect(report.withheld).toEqual([0]);
    expect((await redis.client.xpending('s', 'g'))[0]).toBe(1);
  });

  it('sends a command too large for the batched-commands script as itself, in order, with failures on the right message', async () => {
    const [a, b, c] = await deliver(3);
    await redis.client.set('not-a-hash', 'x');
    const wide: Record<string, string> = {};
    for (let i = 0; i < 5000; i++) wide[`f${i}`] = String(i); // 10,000 field arguments: past Lua's unpack limit
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: recorder((r) => r.emit('out', { n: 'a' })) },
      { entryId: b, recorder: recorder((r) => r.emit('out', { n: 'b', ...wide })) },
      { entryId: c, recorder: recorder((r) => (r.put('not-a-hash', { f: 'v' }), r.emit('out', { n: 'c' }))) },
    ]);
    expect(report.committed).toEqual([0, 1]);
    expect(report.withheld).toEqual([2]);
    expect(report.effectFailures.map((f) => [f.item, f.error.message.slice(0, 9)])).toEqual([[2, 'WRONGTYPE']]);
    const outputs = await redis.client.xrange('out', '-', '+');
    expect(outputs.map(([, f]) => f[1])).toEqual(['a', 'b']);
    expect(outputs[1]![1]).toHaveLength(2 + 10_000);
    const pending = (await redis.client.xpending('s', 'g', '-', '+', 10)) as [string][];
    expect(pending.map(([id]) => id)).toEqual([c]);
  });

  it('carries any text a command can: a lone surrogate arrives as ioredis sends it (U+FFFD), escapes and quotes as they are', async () => {
    const [a] = await deliver(1);
    const texts = { lone: 'cut \ud83d here', pair: 'ok \ud83d\ude00', escape: 'a \\ud800 b', quote: '"\n\u0000', empty: '' };
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: recorder((r) => r.emit('out', texts)) },
    ]);
    expect(report.committed).toEqual([0]);
    const [, fields] = (await redis.client.xrange('out', '-', '+'))[0]!;
    expect(Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]]))).toEqual({
      ...texts,
      lone: 'cut \ufffd here',
    });
  });

  it('applies every kind of effect inside the one transaction', async () => {
    const [a] = await deliver(1);
    await redis.client.zadd('window', 1, 'old', 5, 'new');
    await redis.client.sadd('members', 'gone');
    await redis.client.set('doomed', '1');
    await redis.client.hset('snapshot', 'stale', '1');
    const report = await commitAndReport(new TransactionCommitter(connection, 100), { stream: 's', group: 'g', consumer: 'c' }, [
      {
        entryId: a,
        recorder: recorder((r) => {
          r.emit('out', { n: 'a' });
          r.put('snapshot', { fresh: '1' }, { replace: true, ttlSec: 60 });
          r.put('flag', 'on', { ttlSec: 30 });
          r.put('plain', 'v');
          r.remove('doomed');
          r.add('members', 'joined', { to: 'set' });
          r.remove('members', { from: 'set', member: 'gone' });
          r.add('window', 'newest', { to: 'sorted-set', score: 9, ttlSec: 90 });
          r.remove('window', { from: 'sorted-set', scoredAtMost: 2 });
        }),
      },
    ]);
    expect(report).toEqual({ committed: [0], conflicted: [], lost: [], superseded: [], withheld: [], waiting: [], effectFailures: [] });
    expect(await redis.client.hgetall('snapshot')).toEqual({ fresh: '1' });
    expect(await redis.client.ttl('snapshot')).toBeGreaterThan(50);
    expect(await redis.client.get('flag')).toBe('on');
    expect(await redis.client.ttl('flag')).toBeGreaterThan(20);
    expect(await redis.client.get('plain')).toBe('v');
    expect(await redis.client.ttl('plain')).toBe(-1);
    expect(await redis.client.exists('doomed')).toBe(0);
    expect((await redis.client.smembers('members')).sort()).toEqual(['joined']);
    expect(await redis.client.zrange('window', 0, '-1')).toEqual(['new', 'newest']);
    expect(await redis.client.ttl('window')).toBeGreaterThan(80);
    expect((await redis.client.xpending('s', 'g'))[0]).toBe(0);
  });

  it('writes nothing for an entry another consumer reclaimed or acknowledged meanwhile, atomically with the commit', async () => {
    const [a, b, c] = await deliver(3);
    await redis.client.xclaim('s', 'g', 'reclaimer', 0, b!);
    await redis.client.xack('s', 'g', c!);
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: recorder((r) => (r.emit('out', { n: 'a' }), r.put('k:a', '1'))) },
      { entryId: b, recorder: recorder((r) => (r.emit('out', { n: 'b' }), r.put('k:b', '1'))) },
      { entryId: c, extraEmits: [{ stream: 'dlq', fields: { reason: 'x' }, maxLen: 0 }] },
    ]);
    expect(report).toEqual({ committed: [0], conflicted: [], lost: [1, 2], superseded: [], withheld: [], waiting: [], effectFailures: [] });
    expect((await redis.client.xrange('out', '-', '+')).map(([, f]) => f[1])).toEqual(['a']);
    expect(await redis.client.exists('k:a', 'k:b', 'dlq')).toBe(1);
    // b stays pending for the consumer that reclaimed it, which will write its outputs.
    const pending = (await redis.client.xpending('s', 'g', '-', '+', 10)) as [string, string][];
    expect(pending.map(([id, consumer]) => [id, consumer])).toEqual([[b, 'reclaimer']]);
  });

  it('applies newest-wins messages in batch order: an older id than the one stored is acknowledged without its effects', async () => {
    const [a, b, c, d] = await deliver(4);
    const newest = (id: string, n: string) => recorder((r) => (r.onlyIfNewer('order', id), r.emit('out', { n })));
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: newest('3-0', 'a') },
      { entryId: b, recorder: newest('5-0', 'b') },
      { entryId: c, recorder: newest('4-9', 'c') },
      { entryId: d, recorder: newest('5-0', 'd') }, // the same id again: a redelivery applies again
    ]);
    expect(report).toEqual({
      committed: [0, 1, 3],
      conflicted: [],
      lost: [],
      superseded: [2],
      withheld: [],
      waiting: [],
      effectFailures: [],
    });
    expect((await redis.client.xrange('out', '-', '+')).map(([, f]) => f[1])).toEqual(['a', 'b', 'd']);
    expect(await redis.client.get('order')).toBe('5-0');
    expect((await redis.client.xpending('s', 'g'))[0]).toBe(0);

    // A later commit (another replica's, say) with an older id changes nothing.
    const [e] = await deliver(1);
    const late = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: e, recorder: newest('1700000000000-0', 'e') },
    ]);
    expect(late.superseded).toEqual([]);
    const [f] = await deliver(1);
    const stale = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: f, recorder: newest('999999999999-5', 'f') },
    ]);
    expect(stale).toMatchObject({ committed: [], superseded: [0] });
    expect(await redis.client.get('order')).toBe('1700000000000-0');
    expect((await redis.client.xrange('out', '-', '+')).map(([, fields]) => fields[1])).toEqual(['a', 'b', 'd', 'e']);
  });

  it('checks newest-wins in a transaction of plain commands: a wide message and the ones with it commit in one round', async () => {
    const [a, b, c] = await deliver(3);
    const wide: Record<string, string> = {};
    for (let i = 0; i < 5000; i++) wide[`f${i}`] = String(i);
    await redis.client.set('stale', '9-0');
    const committer = new TransactionCommitter(connection, 0);
    const report = await commitAndReport(committer, { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: recorder((r) => (r.onlyIfNewer('order', '7-0'), r.put('h', wide), r.emit('out', { n: 'a', ...wide }))) },
      { entryId: b, recorder: recorder((r) => (r.onlyIfNewer('order', '6-0'), r.emit('out', { n: 'b' }))) },
      { entryId: c, recorder: recorder((r) => (r.onlyIfNewer('stale', '8-0'), r.emit('out', { n: 'c' }))) },
    ]);
    expect(report).toMatchObject({ committed: [0], conflicted: [], superseded: [1, 2] });
    expect(await redis.client.get('order')).toBe('7-0');
    expect(await redis.client.get('stale')).toBe('9-0');
    expect(await redis.client.hlen('h')).toBe(5000);
    expect((await redis.client.xrange('out', '-', '+')).map(([, f]) => f[1])).toEqual(['a']);
    expect((await redis.client.xpending('s', 'g'))[0]).toBe(0);
  });

  it('in a transaction of plain commands, holds back a message whose order field an earlier pending entry shares', async () => {
    await redis.client.xadd('s', '*', 'symbol', 'BTCUSDT');
    await redis.client.xreadgroup('GROUP', 'g', 'other', 'COUNT', 1, 'STREAMS', 's', '>');
    const [a, b] = await deliver(2);
    const wide: Record<string, string> = {};
    for (let i = 0; i < 5000; i++) wide[`f${i}`] = String(i);
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: recorder((r) => (r.orderBy('symbol', 'BTCUSDT'), r.emit('out', { n: 'a', ...wide }))) },
      { entryId: b, recorder: recorder((r) => (r.orderBy('symbol', 'ETHUSDT'), r.emit('out', { n: 'b', ...wide }))) },
    ]);
    expect(report).toMatchObject({ committed: [1], waiting: [0], conflicted: [] });
    expect((await redis.client.xrange('out', '-', '+')).map(([, f]) => f[1])).toEqual(['b']);
  });

  it('treats a guard check it could not read (a lost connection) as an error, never as an absent key', async () => {
    const [a] = await deliver(1);
    const closed = () => [new Error('Connection is closed.'), null] as const;
    const broken = new Proxy(connection, {
      get(target, prop) {
        if (prop === 'eval') return () => Promise.reject(closed()[0]);
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const committing = new TransactionCommitter(broken, 0).commit({ stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: recorder((r) => (r.require('switch', { is: 'off', offValues: ['off'] }), r.put('permit', 'mine'))) },
    ]);
    await expect(committing).rejects.toThrow(/Connection is closed/);
    await connection.unwatch();
    expect(await redis.client.exists('permit')).toBe(0);
    expect((await redis.client.xpending('s', 'g'))[0]).toBe(1);
  });

  it('runs an unguarded batch as one EVALSHA with no transaction, and sends the body again when Redis forgot the script', async () => {
    const calls = async () => {
      const stats = new Map<string, number>();
      for (const match of (await redis.client.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
        stats.set(match[1]!, Number(match[2]));
      return stats;
    };
    const source = { stream: 's', group: 'g', consumer: 'c' };
    const committer = new TransactionCommitter(connection, 0);
    await redis.client.script('FLUSH');
    await redis.client.config('RESETSTAT');
    const ids = await deliver(3);
    for (const [n, id] of ids.entries()) {
      if (n === 2) await redis.client.script('FLUSH'); // as after a restart: the next EVALSHA answers NOSCRIPT
      const report = await commitAndReport(committer, source, [
        { entryId: id, recorder: recorder((r) => r.emit('out', { n: String(n) })) },
      ]);
      expect(report.committed).toEqual([0]);
    }
    const stats = await calls();
    // Three EVALSHA (the first and the third refused with NOSCRIPT, nothing run), two EVAL with the body.
    expect([stats.get('evalsha'), stats.get('eval'), stats.get('multi'), stats.get('exec')]).toEqual([3, 2, undefined, undefined]);
    expect(await redis.client.xlen('out')).toBe(3);
    expect((await redis.client.xpending('s', 'g'))[0]).toBe(0);
  });

  it('checks absent and equals guards inside the script: no WATCH, no transaction', async () => {
    const [a, b] = await deliver(2);
    await redis.client.set('version', '3');
    await redis.client.config('RESETSTAT');
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: recorder((r) => (r.require('permit', { is: 'absent' }), r.put('permit', 'a'))) },
      { entryId: b, recorder: recorder((r) => (r.require('version', { is: 'holding', value: '3' }), r.put('version', '4'))) },
    ]);
    expect(report.committed).toEqual([0, 1]);
    const stats = await redis.client.info('commandstats');
    expect(stats).not.toMatch(/cmdstat_(watch|multi|exec):/);
    expect([await redis.client.get('permit'), await redis.client.get('version')]).toEqual(['a', '4']);
  });

  it('checks an off guard given the value read inside the script, with no read before it: changed even to another off value, re-run', async () => {
    const [a, b, c, d] = await deliver(4);
    await redis.client.set('kill', '0');
    await redis.client.set('other', 'false');
    // readSwitches' read of a switch is an EVAL of its own before the commit: none is sent.
    let switchReads = 0;
    const counting = new Proxy(connection, {
      get(target, prop) {
        if (prop === 'eval') switchReads += 1;
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const off = (key: string, read: string | null, permit: string) =>
      recorder((r) => (r.require(key, { is: 'off', offValues: ['0', 'false', ''], read }), r.put(permit, 'yes')));
    const report = await commitAndReport(new TransactionCommitter(counting, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      // Still as read: commits.
      { entryId: a, recorder: off('kill', '0', 'p1') },
      // Read as '0', now 'false' (off as well): stricter than the switch's rule, run again on what it holds now.
      { entryId: b, recorder: off('other', '0', 'p2') },
      // Read absent, still absent: commits.
      { entryId: c, recorder: off('missing', null, 'p3') },
      // Read as on: never commits, whatever the key holds now.
      { entryId: d, recorder: off('kill', '1', 'p4') },
    ]);
    expect(report.committed).toEqual([0, 2]);
    expect(report.conflicted).toEqual([1, 3]);
    expect(await redis.client.mget('p1', 'p2', 'p3', 'p4')).toEqual(['yes', null, 'yes', null]);
    expect(switchReads).toBe(0);
  });

  it('keeps a newest-wins write that a later guarded message would have overwritten, when that message is refused', async () => {
    const [a, b] = await deliver(2);
    await redis.client.set('taken', '1');
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: recorder((r) => r.put('latest', { v: 'a' }, { latestWins: true })) },
      { entryId: b, recorder: recorder((r) => (r.require('taken', { is: 'absent' }), r.put('latest', { v: 'b' }, { latestWins: true }))) },
    ]);
    expect(report).toMatchObject({ committed: [0], conflicted: [1] });
    expect(await redis.client.hgetall('latest')).toEqual({ v: 'a' });
  });

  it('holds back every later message touching a key of one whose guard failed in the script, as a check before the transaction did', async () => {
    const [a, b, c, d, e] = await deliver(5);
    await redis.client.set('taken', '1');
    await redis.client.set('version', '1');
    // c is no longer this consumer's: a failing guard still answers conflicted (as when it was checked first).
    await redis.client.xack('s', 'g', c!);
    const report = await commitAndReport(new TransactionCommitter(connection, 0), { stream: 's', group: 'g', consumer: 'c' }, [
      { entryId: a, recorder: recorder((r) => (r.require('taken', { is: 'absent' }), r.put('shared', 'a'), r.emit('out', { n: 'a' }))) },
      { entryId: b, recorder: recorder((r) => (r.add('shared-set', 'b', { to: 'set' }), r.put('shared', 'b'), r.emit('out', { n: 'b' }))) },
      { entryId: c, recorder: recorder((r) => (r.require('version', { is: 'holding', value: '0' }), r.emit('out', { n: 'c' }))) },
      {
        entryId: d,
        recorder: recorder(
          (r) => (r.require('other', { is: 'absent' }), r.add('shared-set', 'd', { to: 'set' }), r.emit('out', { n: 'd' })),
        ),
      },
      { entryId: e, recorder: recorder((r) => (r.require('free', { is: 'absent' }), r.put('free', 'e'), r.emit('out', { n: 'e' }))) },
    ]);
    expect(report).toMatchObject({ committed: [4], conflicted: [0, 1, 2, 3], lost: [] });
    expect((await redis.client.xrange('out', '-', '+')).map(([, f]) => f[1])).toEqual(['e']);
    expect([await redis.client.get('shared'), await redis.client.exists('shared-set'), await redis.client.get('free')]).toEqual([
      null,
      0,
      'e',
    ]);
    expect((await redis.client.xpending('s', 'g'))[0]).toBe(3);
  });
});
