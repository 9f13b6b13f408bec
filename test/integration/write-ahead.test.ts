import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defineBatchCommand } from '../../runtime/engine/batch-script.js';
import { TransactionCommitter } from '../../runtime/engine/commit.js';
import { EffectRecorder } from '../../runtime/engine/effects.js';
import { AHEAD_SLICE_COMMANDS } from '../../runtime/engine/write-ahead.js';
import { commitAndReport } from '../support/commit-report.js';
import { keyContents } from '../support/key-contents.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

/** Each commit script call's commands, as [name, key] pairs, in the order Redis ran the calls. */
type ScriptCall = [name: string, key: string][];

describe('a large job commit written ahead in slices (OwnKeys.writes)', () => {
  let redis: TestRedis;
  let connection: Redis;
  let calls: ScriptCall[];
  /** Runs once after the first script call, on the committer's own connection (so it lands between two calls). */
  let afterFirstCall: (() => Promise<unknown>) | undefined;
  let counting: Redis;

  beforeAll(async () => {
    redis = await startTestRedis();
    connection = new Redis(redis.url);
    defineBatchCommand(connection);
    counting = new Proxy(connection, {
      get(target, prop) {
        if (prop === 'qgRunBatch')
          return async (...args: string[]) => {
            const items = JSON.parse(args[6]!) as [string, string, string, string[], string[], string[][]][];
            calls.push(items.flatMap((item) => item[5].map((command): [string, string] => [command[0]!, command[1]!])));
            const reply = await target.qgRunBatch(...args);
            const meddle = afterFirstCall;
            afterFirstCall = undefined;
            await meddle?.();
            return reply;
          };
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  });
  afterAll(async () => {
    connection.disconnect();
    await redis.stop();
  });
  beforeEach(async () => {
    await redis.client.flushall();
    calls = [];
    afterFirstCall = undefined;
  });

  const sliced = () => new TransactionCommitter(counting, 0, (key) => key.startsWith('budget:'));

  /** A budget tick's shape: `count` hashes with a TTL, a violation event, and its done key guarded absent. */
  function tick(count: number): EffectRecorder {
    const r = new EffectRecorder();
    r.require('done', { is: 'absent' });
    for (let i = 0; i < count; i++) r.put(`budget:${i}`, { symbol: `S${i}`, budget_usd: String(i) }, { ttlSec: 60 });
    r.emit('violations', { symbol: 'S1' });
    r.put('done', '1', { ttlSec: 600 });
    return r;
  }

  it('writes the hashes a slice a call, then the event and the done key together in the last call', async () => {
    const report = await commitAndReport(sliced(), undefined, [{ recorder: tick(400) }]);
    expect(report.committed).toEqual([0]);
    // 800 commands (HSET, EXPIRE) ahead: four calls of 256, 256, 256, 32; then the event and the done key.
    expect(calls.map((call) => call.length)).toEqual([256, 256, 256, 32, 2]);
    expect(calls.at(-1)).toEqual([
      ['XADD', 'violations'],
      ['SET', 'done'],
    ]);
    expect(
      calls
        .slice(0, -1)
        .flat()
        .some(([, key]) => key === 'done' || key === 'violations'),
    ).toBe(false);
    expect(await redis.client.hgetall('budget:399')).toEqual({ symbol: 'S399', budget_usd: '399' });
    expect(await redis.client.ttl('budget:0')).toBeGreaterThan(0);
    expect(await redis.client.xlen('violations')).toBe(1);
  });

  it('writes nothing when the guard fails at the first slice: the item is re-run, as unsliced', async () => {
    await redis.client.set('done', 'by another run');
    const report = await commitAndReport(sliced(), undefined, [{ recorder: tick(400) }]);
    expect(report.conflicted).toEqual([0]);
    expect(calls).toHaveLength(1);
    expect(await redis.client.exists('budget:0', 'violations')).toBe(0);
    expect(await redis.client.get('done')).toBe('by another run');
  });

  it('stops at the slice whose guard fails meanwhile: the event and the done key of another run stay as they were', async () => {
    afterFirstCall = () => connection.set('done', 'by another run');
    const report = await commitAndReport(sliced(), undefined, [{ recorder: tick(400) }]);
    expect(report.conflicted).toEqual([0]);
    expect(calls).toHaveLength(2);
    // The first slice stays applied (128 hashes, repeatable); nothing after it.
    expect(await redis.client.exists('budget:127')).toBe(1);
    expect(await redis.client.exists('budget:128', 'violations')).toBe(0);
    expect(await redis.client.get('done')).toBe('by another run');
  });

  it('resumes a commit retried after a lost reply after the slices that landed', async () => {
    const item = { recorder: tick(400) };
    // The second slice's reply is lost (it landed, unknown to the committer); the first's was read.
    afterFirstCall = async () => {
      afterFirstCall = () => Promise.reject(new Error('connection lost'));
    };
    // Retried by the same committer, as the runtime's one committer per gate retries it.
    const committer = sliced();
    await expect(committer.commit(undefined, [item])).rejects.toThrow('connection lost');
    const report = await commitAndReport(committer, undefined, [item]);
    expect(report.committed).toEqual([0]);
    // Two calls, then the retry from the second slice on: not the first again.
    expect(calls.map((call) => call.length)).toEqual([256, 256, 256, 256, 32, 2]);
    expect(await redis.client.xlen('violations')).toBe(1);
  });

  it('stops at a slice whose write Redis refuses: withheld, with the refused key named, and nothing of the commit after it', async () => {
    await redis.client.set('budget:300', 'a string, not a hash');
    const report = await commitAndReport(sliced(), undefined, [{ recorder: tick(400) }]);
    expect(report.withheld).toEqual([0]);
    expect(report.effectFailures.map((f) => f.error.message)).toEqual([expect.stringContaining('budget:300')]);
    expect(await redis.client.exists('violations', 'done')).toBe(0);
  });

  it.each([
    ['a gate that does not declare it', () => new TransactionCommitter(counting, 0), [{ recorder: tick(400) }]],
    ['a stream entry', sliced, [{ entryId: '1-0', recorder: tick(400) }]],
    ['two items in one commit', sliced, [{ recorder: tick(400) }, { recorder: new EffectRecorder() }]],
    ['a commit of one slice or less', sliced, [{ recorder: tick(100) }]],
  ])('commits in one call: %s', async (_name, committer, items) => {
    await commitAndReport(committer(), undefined, items);
    expect(calls).toHaveLength(1);
  });

  // Keys of each type an effect may write, so no generated commit writes a key of the wrong type.
  const hashes = ['h0', 'h1', 'h2'];
  const strings = ['k0', 'k1'];
  const sets = ['s0', 's1'];
  const zsets = ['z0', 'z1'];
  const lists = ['l0', 'l1'];
  const streams = ['e0', 'e1'];
  const ttl = fc.option(fc.constantFrom(60, 600), { nil: undefined });
  const small = fc.integer({ min: 0, max: 5 }).map(String);
  const effect = fc.oneof(
    fc.record({
      op: fc.constant('putHash' as const),
      key: fc.constantFrom(...hashes),
      fields: fc.dictionary(fc.constantFrom('a', 'b', 'c'), small, { minKeys: 1 }),
      ttlSec: ttl,
      replace: fc.boolean(),
    }),
    fc.record({ op: fc.constant('setKey' as const), key: fc.constantFrom(...strings), value: small, ttlSec: ttl }),
    fc.record({ op: fc.constant('deleteKey' as const), key: fc.constantFrom(...hashes, ...strings, ...sets, ...zsets, ...lists) }),
    fc.record({ op: fc.constant('addToSet' as const), key: fc.constantFrom(...sets), member: small }),
    fc.record({ op: fc.constant('removeFromSet' as const), key: fc.constantFrom(...sets), member: small }),
    fc.record({
      op: fc.constant('addToSortedSet' as const),
      key: fc.constantFrom(...zsets),
      member: small,
      score: fc.integer({ min: 0, max: 9 }),
    }),
    fc.record({ op: fc.constant('trimSortedSet' as const), key: fc.constantFrom(...zsets), maxScore: fc.integer({ min: 0, max: 9 }) }),
    fc.record({
      op: fc.constant('pushToList' as const),
      key: fc.constantFrom(...lists),
      value: small,
      maxLength: fc.integer({ min: 1, max: 4 }),
    }),
    fc.record({ op: fc.constant('emit' as const), stream: fc.constantFrom(...streams), fields: fc.record({ n: small }) }),
  );
  type GeneratedEffect = typeof effect extends fc.Arbitrary<infer T> ? T : never;

  function record(effects: readonly GeneratedEffect[]): EffectRecorder {
    const r = new EffectRecorder();
    r.require('done', { is: 'absent' });
    for (const e of effects) {
      const ttlOf = (sec: number | undefined) => (sec === undefined ? {} : { ttlSec: sec });
      if (e.op === 'putHash') r.put(e.key, e.fields, { ...ttlOf(e.ttlSec), replace: e.replace });
      else if (e.op === 'setKey') r.put(e.key, e.value, ttlOf(e.ttlSec));
      else if (e.op === 'deleteKey') r.remove(e.key);
      else if (e.op === 'addToSet') r.add(e.key, e.member, { to: 'set' });
      else if (e.op === 'removeFromSet') r.remove(e.key, { from: 'set', member: e.member });
      else if (e.op === 'addToSortedSet') r.add(e.key, e.member, { to: 'sorted-set', score: e.score });
      else if (e.op === 'trimSortedSet') r.remove(e.key, { from: 'sorted-set', scoredAtMost: e.maxScore });
      else if (e.op === 'pushToList') r.add(e.key, e.value, { to: 'list', maxLength: e.maxLength });
      else r.emit(e.stream, e.fields);
    }
    r.put('done', '1');
    return r;
  }

  const state = async () => keyContents(redis.client, await redis.client.keys('*'));

  it('leaves what one call leaves, whatever the effects: no call runs more than a slice of writes ahead, the guarded key and appends come last (generated)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(effect, { minLength: 100, maxLength: 320 }), async (effects) => {
        await redis.client.flushall();
        await commitAndReport(new TransactionCommitter(connection, 0), undefined, [{ recorder: record(effects) }]);
        const whole = await state();
        await redis.client.flushall();
        calls = [];
        const report = await commitAndReport(sliced(), undefined, [{ recorder: record(effects) }]);
        expect(report.committed).toEqual([0]);
        expect(await state()).toEqual(whole);
        const [last, ...ahead] = [calls.at(-1)!, ...calls.slice(0, -1)];
        // A replacing put (DEL, HSET, EXPIRE) is never split: a slice may run over by its last two commands.
        for (const call of ahead) expect(call.length).toBeLessThanOrEqual(AHEAD_SLICE_COMMANDS + 2);
        const aheadKeys = new Set(ahead.flat().map(([, key]) => key));
        for (const [name, key] of last) if (name === 'XADD' || name === 'LPUSH' || key === 'done') expect(aheadKeys.has(key)).toBe(false);
      }),
      { numRuns: 40 },
    );
  });
});
