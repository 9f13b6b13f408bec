import { Redis } from 'ioredis';
import * as z from 'zod';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defineHandler, type AnyHandler } from '../../runtime/contract/handler.js';
import type { RedisReader } from '../../runtime/contract/redis-reader.js';
import type { CommitReport, CommitSource } from '../../runtime/engine/batch-script.js';
import { TransactionCommitter, type Committer } from '../../runtime/engine/commit.js';
import { commitBatch, type CommitLoopEnv } from '../../runtime/engine/commit-loop.js';
import { Delivery, type CommitItem } from '../../runtime/engine/delivery.js';
import { prepareBatch, rerun, type PipelineEnv } from '../../runtime/engine/message-pipeline.js';
import { createRegistry, runtimeMetrics } from '../../runtime/engine/metrics.js';
import { Settler } from '../../runtime/engine/settle.js';
import { silentLogger, stubExecutionEnv } from '../support/execution-env.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

/**
 * A gate shaped like the governor's caps: the batch state reads a version and the list of what
 * was applied (the reservations); each message decides on that plus the decisions before it in
 * the batch, guards on the version it expects (read from Redis, or set by the message before it:
 * a chained guard), bumps it and adds itself to the list. Its output says what its decision
 * counted, so a decision committed on a view missing something that was applied shows.
 */
interface State {
  version: string | null;
  applied: string[];
}
const caps: AnyHandler = defineHandler({
  name: 'caps',
  description: 'test',
  trigger: { kind: 'stream', stream: () => 's', group: () => 'g' },
  input: z.looseObject({ n: z.string() }),
  config: () => ({}),
  metrics: () => ({}),
  failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter' },
  batch: {
    loadState: async (redis): Promise<State> => {
      const [version, applied] = await Promise.all([redis.get('version'), redis.lrange('applied', 0, -1)]);
      return { version, applied: applied.reverse() };
    },
  },
  async handle(message, ctx) {
    const state = ctx.state as State;
    const from = state.version;
    const to = String(Number(from ?? '0') + 1);
    ctx.require('version', { is: 'holding', value: from });
    ctx.put('version', to);
    ctx.add('applied', message.n, { to: 'list', maxLength: 100 });
    ctx.emit('out', { n: message.n, counted: state.applied.join(',') });
    state.version = to;
    state.applied = [...state.applied, message.n];
  },
});

/**
 * After a commit whose reply was lost, the consumer settles what is no longer pending and commits
 * the rest again. A message whose guard was chained on a message before it that did not apply
 * (another consumer had reclaimed its entry) expects a value that message never wrote; another
 * writer can write the same value (versions count up from the same number everywhere). Committed
 * again as it was, its decision would stand on a view holding the message that never applied and
 * missing the other writer's: decided on a reserved total missing a reservation.
 */
describe('a chained guard after a commit whose reply was lost', () => {
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

  /** Entries a and b delivered to consumer c, as one batch of the caps gate, decided (b chained on a). */
  async function decidedBatch() {
    const r = redis.client;
    for (const n of ['a', 'b']) await r.xadd('s', '*', 'n', n);
    const read = (await r.xreadgroup('GROUP', 'g', 'c', 'COUNT', 2, 'STREAMS', 's', '>')) as [string, [string, string[]][]][];
    const ids = read[0]![1].map(([id]) => id);
    const pipeline: PipelineEnv = {
      handler: caps,
      execution: { ...stubExecutionEnv(), redis: connection as unknown as RedisReader },
      maxDeliveries: 5,
      deadLetter: { stream: 'dlq', maxLen: 0, sourceStream: 's', group: 'g' },
    };
    const deliveries = ids.map((id, i) => new Delivery({ id, raw: { n: 'ab'[i]! }, producedAt: 1 }, { n: 'ab'[i]! }, 1, id));
    const batch = await prepareBatch(pipeline, deliveries, 1_000_000);
    return { ids: ids as [string, string], pipeline, batch };
  }

  /**
   * The commit loop over the real committer, whose first commit's reply is lost: `first` runs in
   * its place (it may commit, and it may let another writer in), then the commit throws as a
   * dropped connection makes it. Counts the re-runs of the handler.
   */
  function lossyEnv(pipeline: PipelineEnv, first: (commit: () => Promise<unknown>) => Promise<void>) {
    const r = redis.client;
    const real = new TransactionCommitter(connection, 0);
    let commits = 0;
    const rerunCounts: string[][] = [];
    const committer: Committer = {
      async commit<Item extends CommitItem>(source: CommitSource | undefined, items: readonly Item[]): Promise<CommitReport<Item>> {
        if (++commits > 1) return real.commit(source, items);
        await first(() => real.commit(source, items));
        throw new Error('Connection is closed.'); // ioredis's rejection of a command in flight
      },
    };
    const metrics = runtimeMetrics(createRegistry(), { version: '0.1.0', commit: 'source' });
    const env: CommitLoopEnv = {
      handlerName: 'caps',
      committer,
      source: { stream: 's', group: 'g', consumer: 'c' },
      metrics,
      log: silentLogger as never,
      settle: new Settler({ handlerName: 'caps', metrics, jobs: { add: async () => undefined }, log: silentLogger as never }),
      rerun: (again) => {
        rerunCounts.push(again.map((d) => String((d.data as { n: string }).n)));
        return rerun(pipeline, again);
      },
      now: () => 1_000_000,
      claimIdleMs: 30_000,
      backoffMaxMs: 0,
      pendingIds: async (ids) => {
        const rows = (await r.xpending('s', 'g', '-', '+', 100, 'c')) as [string, ...unknown[]][];
        const mine = new Set(rows.map(([id]) => id));
        return new Set(ids.filter((id) => mine.has(id)));
      },
      waitForRedis: async () => undefined,
      sleep: async () => undefined,
      stop: new AbortController().signal,
      health: { noteWriteRefused: () => undefined, noteWriteAccepted: () => undefined },
      onProgress: () => undefined,
      onFailure: () => undefined,
      applyFailurePolicy: () => Promise.resolve(),
      refusedKeys: new Map(),
    };
    return { env, reruns: rerunCounts };
  }

  async function outputs(): Promise<Record<string, string>[]> {
    return (await redis.client.xrange('out', '-', '+')).map(([, f]) => ({ [f[0]!]: f[1]!, [f[2]!]: f[3]! }));
  }

  it('is decided again on fresh data when its predecessor did not land, never committed on the version it predicted', async () => {
    const r = redis.client;
    const { ids, pipeline, batch } = await decidedBatch();
    // Another consumer reclaims a (this one stalled): the commit skips a's writes and b's chain breaks.
    await r.xclaim('s', 'g', 'other', 0, ids[0]);
    // The commit applies (a lost, b's chained guard fails at its turn) and its reply is lost;
    // meanwhile the other consumer commits its decision of a, which sets the version a would have.
    const { env, reruns } = lossyEnv(pipeline, async (commit) => {
      await commit();
      await r.multi().set('version', '1').lpush('applied', 'a-by-other').exec();
    });

    expect(await commitBatch(env, batch)).toBe(true);
    // b's committed decision counted what was applied before it: the other consumer's a, not its own.
    expect(await outputs()).toEqual([{ n: 'b', counted: 'a-by-other' }]);
    expect(reruns).toEqual([['b']]);
    expect(await r.lrange('applied', 0, -1)).toEqual(['b', 'a-by-other']);
    expect(await r.get('version')).toBe('2');
    expect((await r.xpending('s', 'g', '-', '+', 10, 'c')).length).toBe(0);
  });

  it('is committed again as it was, behind its predecessor, when both are still pending (nothing applied)', async () => {
    const r = redis.client;
    const { pipeline, batch } = await decidedBatch();
    // The commit never reached Redis: both entries stay pending and go again together, chained.
    const { env, reruns } = lossyEnv(pipeline, async () => undefined);

    expect(await commitBatch(env, batch)).toBe(true);
    expect(reruns).toEqual([]);
    expect(await outputs()).toEqual([
      { n: 'a', counted: '' },
      { n: 'b', counted: 'a' },
    ]);
    expect(await r.get('version')).toBe('2');
    expect((await r.xpending('s', 'g', '-', '+', 10, 'c')).length).toBe(0);
  });
});
