import { commitAndReport } from '../support/commit-report.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClusterCommitter } from '../../runtime/engine/cluster-commit.js';
import { TransactionCommitter } from '../../runtime/engine/commit.js';
import type { CommitItem } from '../../runtime/engine/delivery.js';
import { deadLetterIndexKey } from '../../runtime/engine/dead-letter.js';
import { EffectRecorder } from '../../runtime/engine/effects.js';
import { startTestRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

const DLQ = 'quantum:stream:dlq';

/** A dead letter of `gate` as the message pipeline commits it, bounded to `maxLen` for that gate. */
function deadLetter(gate: string, n: number, maxLen: number): CommitItem {
  return { extraEmits: [{ stream: DLQ, fields: { handler: gate, n: String(n) }, maxLen, index: deadLetterIndexKey(DLQ, gate) }] };
}

/** An item whose one emit has more arguments than the batch script takes: the batch goes out as plain commands. */
function oversized(): CommitItem {
  const recorder = new EffectRecorder();
  recorder.emit('out', Object.fromEntries(Array.from({ length: 4_000 }, (_, i) => [`f${i}`, 'v'])));
  return { recorder };
}

async function handlersIn(redis: { xrange(key: string, start: string, end: string): Promise<[string, string[]][]> }): Promise<string[]> {
  return (await redis.xrange(DLQ, '-', '+')).map(([, f]) => `${f[1]}:${f[3]}`);
}

describe('dead letters bounded per gate, trims counted, on one node', () => {
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
  });

  it('in the batch script: a gate past its bound loses its own oldest, and the commit reports how many', async () => {
    const committer = new TransactionCommitter(connection, 0);
    await committer.commit(undefined, [deadLetter('governor', 0, 2), deadLetter('governor', 1, 2)]);
    const report = await commitAndReport(
      committer,
      undefined,
      Array.from({ length: 5 }, (_, n) => deadLetter('heat-gate', n, 2)),
    );

    expect(report.committed).toEqual([0, 1, 2, 3, 4]);
    expect(report.trimmed).toBe(3);
    expect(await handlersIn(redis.client)).toEqual(['governor:0', 'governor:1', 'heat-gate:3', 'heat-gate:4']);
  });

  it('as plain commands (a batch too large for the script): the same bound and the same count', async () => {
    const committer = new TransactionCommitter(connection, 0);
    const report = await commitAndReport(committer, undefined, [
      oversized(),
      ...Array.from({ length: 4 }, (_, n) => deadLetter('heat-gate', n, 1)),
    ]);

    expect(report.committed).toEqual([0, 1, 2, 3, 4]);
    expect(report.trimmed).toBe(3);
    expect(await handlersIn(redis.client)).toEqual(['heat-gate:3']);
  });

  it('without a bound (DLQ_MAXLEN=0) nothing is trimmed and no count is reported', async () => {
    const report = await commitAndReport(
      new TransactionCommitter(connection, 0),
      undefined,
      Array.from({ length: 3 }, (_, n) => deadLetter('heat-gate', n, 0)),
    );
    expect(report.trimmed).toBeUndefined();
    expect(await redis.client.xlen(DLQ)).toBe(3);
  });

  it('a gate index of the wrong type withholds the item, as any refused write does', async () => {
    await redis.client.set(deadLetterIndexKey(DLQ, 'heat-gate'), 'not a sorted set');
    const report = await commitAndReport(new TransactionCommitter(connection, 0), undefined, [deadLetter('heat-gate', 0, 5)]);
    expect(report.withheld).toEqual([0]);
    expect(report.effectFailures[0]?.error.message).toMatch(/WRONGTYPE/);
    // Nothing written: the retry cannot leave a second copy.
    expect(await redis.client.xlen(DLQ)).toBe(0);
  });
});

describe('dead letters bounded per gate, trims counted, on a Redis Cluster', () => {
  let cluster: TestRedisCluster;

  beforeAll(async () => {
    cluster = await startTestRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('the stream and each gate index share a slot, so one script bounds and counts', async () => {
    const committer = new ClusterCommitter(cluster.client, 0);
    await committer.commit(undefined, [deadLetter('governor', 0, 2)]);
    const report = await commitAndReport(
      committer,
      undefined,
      Array.from({ length: 4 }, (_, n) => deadLetter('heat-gate', n, 2)),
    );

    expect(report.committed).toEqual([0, 1, 2, 3]);
    expect(report.effectFailures).toEqual([]);
    expect(report.trimmed).toBe(2);
    expect(await handlersIn(cluster.client)).toEqual(['governor:0', 'heat-gate:2', 'heat-gate:3']);
  });
});
