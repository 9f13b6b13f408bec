import { commitAndReport } from '../support/commit-report.js';
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ClusterCommitter, leaseKey } from '../../runtime/engine/cluster-commit.js';
import { slotTag } from '../../runtime/engine/connection.js';
import { EffectRecorder } from '../../runtime/engine/effects.js';
import type { RedisClient } from '../../runtime/host/redis.js';
import { compareStreamIds } from '../../schemas/fields.js';

type Call = (string | number)[];

/**
 * A stand-in for the cluster connection: records every command in the order Redis would see it,
 * evaluates the two lease scripts over a plain map, and can fail a command by name.
 */
class FakeConnection {
  readonly calls: Call[] = [];
  readonly strings = new Map<string, string>();
  failWith: { command: string; error: Error } | undefined;

  async eval(script: string, _numKeys: number, ...args: (string | number)[]): Promise<number> {
    if (script.includes('older(ARGV[1], stored)')) {
      const [key, id] = args.map(String) as [string, string];
      this.calls.push(['ADVANCE_ORDER', key, id]);
      const stored = this.strings.get(key);
      if (stored !== undefined && compareStreamIds(id, stored) < 0) return 0;
      this.strings.set(key, id);
      return 1;
    }
    if (script.includes("'absent'")) {
      const [key, lease, kind, expected, token] = args.map(String) as [string, string, string, string, string];
      this.calls.push(['TAKE_LEASE', key]);
      const holder = this.strings.get(lease);
      if (holder !== undefined && holder !== token) return 0;
      const current = this.strings.get(key);
      if (kind === 'absent' ? current !== undefined : current !== expected) return 0;
      this.strings.set(lease, token);
      return 1;
    }
    const [lease, token] = args.map(String) as [string, string];
    this.calls.push(['GIVE_BACK_LEASE', lease]);
    if (this.strings.get(lease) === token) this.strings.delete(lease);
    return 1;
  }

  pipeline() {
    const queued: Call[] = [];
    const pipeline = {
      call: (...args: (string | number)[]) => {
        queued.push(args);
        return pipeline;
      },
      exec: async () => {
        return queued.map((args): [Error | null, unknown] => {
          this.calls.push(args);
          if (this.failWith && args[0] === this.failWith.command) return [this.failWith.error, null];
          if (args[0] === 'SET') this.strings.set(String(args[1]), String(args[2]));
          return [null, 'OK'];
        });
      },
    };
    return pipeline;
  }

  async xack(stream: string, group: string, ...ids: string[]): Promise<number> {
    this.calls.push(['XACK', stream, group, ...ids]);
    return ids.length;
  }
}

const source = { stream: 'in', group: 'g', consumer: 'c' };

function setup() {
  const fake = new FakeConnection();
  const committer = new ClusterCommitter(fake as unknown as RedisClient, 0);
  return { fake, committer };
}

function recorder(build: (r: EffectRecorder) => void): EffectRecorder {
  const r = new EffectRecorder();
  build(r);
  return r;
}

describe('ClusterCommitter', () => {
  it('checks newest-wins conditions in batch order before the effects, and acknowledges a superseded message without them', async () => {
    const { fake, committer } = setup();
    fake.strings.set('order', '4-0');
    const report = await commitAndReport(committer, source, [
      { entryId: '1-0', recorder: recorder((r) => (r.onlyIfNewer('order', '5-0'), r.put('k', 'five'))) },
      { entryId: '2-0', recorder: recorder((r) => (r.onlyIfNewer('order', '3-0'), r.put('k', 'three'))) },
    ]);
    expect(report).toMatchObject({ committed: [0], superseded: [1], conflicted: [] });
    expect(fake.calls).toEqual([
      ['ADVANCE_ORDER', 'order', '5-0'],
      ['ADVANCE_ORDER', 'order', '3-0'],
      ['SET', 'k', 'five'],
      ['XACK', 'in', 'g', '1-0', '2-0'],
    ]);
  });

  it('applies every effect before the one XACK of the batch', async () => {
    const { fake, committer } = setup();
    const report = await commitAndReport(committer, source, [
      { entryId: '1-0', recorder: recorder((r) => r.emit('out', { plan_id: 'a' })) },
      { entryId: '2-0', extraEmits: [{ stream: 'dlq', fields: { reason: 'invalid_input' }, maxLen: 10 }] },
      { entryId: '3-0', recorder: recorder((r) => r.put('k', 'v', { ttlSec: 5 })) },
    ]);
    expect(report).toEqual({
      committed: [0, 1, 2],
      conflicted: [],
      lost: [],
      superseded: [],
      withheld: [],
      waiting: [],
      effectFailures: [],
    });
    const names = fake.calls.map((c) => c[0]);
    expect(names.slice(0, -1).sort()).toEqual(['SET', 'XADD', 'XADD']);
    expect(fake.calls.at(-1)).toEqual(['XACK', 'in', 'g', '1-0', '2-0', '3-0']);
  });

  it('keeps the recorded order of effects on one key (delete, then write, then expire)', async () => {
    const { fake, committer } = setup();
    await committer.commit(source, [{ entryId: '1-0', recorder: recorder((r) => r.put('h', { a: '1' }, { replace: true, ttlSec: 9 })) }]);
    expect(fake.calls.map((c) => c[0])).toEqual(['DEL', 'HSET', 'EXPIRE', 'XACK']);
  });

  it('reports a guard that no longer holds as a conflict and applies nothing of that item', async () => {
    const { fake, committer } = setup();
    fake.strings.set('permit:p1', '{}');
    const report = await commitAndReport(committer, source, [
      { entryId: '1-0', recorder: recorder((r) => (r.require('permit:p1', { is: 'absent' }), r.put('permit:p1', 'x'))) },
      { entryId: '2-0', recorder: recorder((r) => r.emit('out', { plan_id: 'b' })) },
    ]);
    expect(report.committed).toEqual([1]);
    expect(report.conflicted).toEqual([0]);
    expect(fake.calls.filter((c) => c[0] === 'SET')).toEqual([]);
    expect(fake.calls.at(-1)).toEqual(['XACK', 'in', 'g', '2-0']);
  });

  it('lets only one of two items guarding the same key in one batch commit; the other re-runs', async () => {
    const { committer } = setup();
    const guarded = () => recorder((r) => (r.require('cooldown:BTC', { is: 'absent' }), r.put('cooldown:BTC', '1')));
    const report = await commitAndReport(committer, source, [
      { entryId: '1-0', recorder: guarded() },
      { entryId: '2-0', recorder: guarded() },
    ]);
    expect(report.committed).toEqual([0]);
    expect(report.conflicted).toEqual([1]);
  });

  it('refuses a guard while another committer holds its lease', async () => {
    const { fake, committer } = setup();
    fake.strings.set(leaseKey('version:BTC'), 'someone-else');
    const report = await commitAndReport(committer, source, [
      { entryId: '1-0', recorder: recorder((r) => (r.require('version:BTC', { is: 'absent' }), r.put('version:BTC', '1'))) },
    ]);
    expect(report.conflicted).toEqual([0]);
  });

  it('checks a holding-value guard against the current value and releases its lease after the ack', async () => {
    const { fake, committer } = setup();
    fake.strings.set('version:BTC', '3');
    const report = await commitAndReport(committer, source, [
      { entryId: '1-0', recorder: recorder((r) => (r.require('version:BTC', { is: 'holding', value: '3' }), r.put('version:BTC', '4'))) },
    ]);
    expect(report.committed).toEqual([0]);
    expect(fake.strings.get('version:BTC')).toBe('4');
    expect(fake.strings.has(leaseKey('version:BTC'))).toBe(false);
    expect(fake.calls.map((c) => c[0])).toEqual(['TAKE_LEASE', 'SET', 'XACK', 'GIVE_BACK_LEASE']);
  });

  it('withholds the ack of a message whose write Redis rejects; the others are acknowledged', async () => {
    const { fake, committer } = setup();
    fake.failWith = { command: 'HSET', error: new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value') };
    const report = await commitAndReport(committer, source, [
      { entryId: '1-0', recorder: recorder((r) => r.put('h', { a: '1' })) },
      { entryId: '2-0', recorder: recorder((r) => r.emit('out', { plan_id: 'b' })) },
    ]);
    expect(report.effectFailures).toHaveLength(1);
    expect(report.effectFailures[0]).toMatchObject({ item: 0 });
    expect(report.withheld).toEqual([0]);
    expect(report.committed).toEqual([1]);
    expect(fake.calls.at(-1)).toEqual(['XACK', 'in', 'g', '2-0']);
  });

  it('throws on a lost connection instead of acknowledging outputs that may not have landed', async () => {
    const { fake, committer } = setup();
    fake.failWith = { command: 'XADD', error: new Error('Connection is closed.') };
    await expect(
      committer.commit(source, [{ entryId: '1-0', recorder: recorder((r) => r.emit('out', { plan_id: 'a' })) }]),
    ).rejects.toThrow('Connection is closed.');
    expect(fake.calls.some((c) => c[0] === 'XACK')).toBe(false);
  });

  it('re-enters its own lease when a commit of the same messages is retried after a lost connection', async () => {
    const { fake, committer } = setup();
    const item = { entryId: '1-0', recorder: recorder((r) => (r.require('permit:p9', { is: 'absent' }), r.put('permit:p9', 'x'))) };
    fake.failWith = { command: 'SET', error: new Error('Connection is closed.') };
    await expect(committer.commit(source, [item])).rejects.toThrow();
    fake.failWith = undefined;
    const report = await commitAndReport(committer, source, [item]);
    expect(report.committed).toEqual([0]);
  });
});

describe('slot tags and lease keys', () => {
  it.each([
    ['quantum:permit:abc', 'quantum:permit:abc'],
    ['{quantum}:bull:governor-cooldown:1', 'quantum'],
    ['a{}b', 'a{}b'],
    ['a{b', 'a{b'],
    ['x{y}z{w}', 'y'],
  ])('hashes %s by %s', (key, tag) => {
    expect(slotTag(key)).toBe(tag);
  });

  it.each(['quantum:permit:abc', 'quantum:governor:cooldown:BTCUSDT', '{quantum}:x', 'a:{tag}:b'])(
    'puts the lease of %s in the same slot',
    (key) => {
      expect(slotTag(leaseKey(key))).toBe(slotTag(key));
      expect(leaseKey(key)).not.toBe(key);
    },
  );
});
