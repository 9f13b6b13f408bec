import { ReplyError } from 'ioredis';
import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import type { CommitReport, CommitSource } from '../../runtime/engine/batch-script.js';
import type { Committer } from '../../runtime/engine/commit.js';
import { commitBatch, GroupLostError, type CommitLoopEnv } from '../../runtime/engine/commit-loop.js';
import { immediatePace, silentLogger, stubDecisionEnv } from '../support/execution-env.js';
import { defineHandler, type AnyHandler } from '../../runtime/contract/handler.js';
import { Delivery, type CommitAnswer, type CommitItem } from '../../runtime/engine/delivery.js';
import { prepareBatch, rerun, type PipelineEnv } from '../../runtime/engine/message-pipeline.js';
import type { Effect } from '../../runtime/engine/effects.js';
import { createRegistry, runtimeMetrics } from '../../runtime/engine/metrics.js';
import { Settler } from '../../runtime/engine/settle.js';

const silent = silentLogger;

/** Echoes `n` to an output stream; claims `key` when given (a commit guard). */
const echo: AnyHandler = defineHandler({
  name: 'echo',
  description: 'test',
  trigger: { kind: 'stream', stream: () => 'in', group: () => 'g' },
  input: z.looseObject({ n: z.string(), key: z.string().optional() }),
  config: () => ({}),
  metrics: () => ({}),
  failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter' },
  async handle(message, ctx) {
    if (message.key) ctx.require(message.key, { is: 'absent' });
    ctx.emit('out', { n: message.n });
  },
});

/** A scripted commit's answers by position in the items given; an item not named is committed. */
type Scripted = Partial<Record<CommitAnswer, number[]>> & {
  readonly effectFailures?: { item: number; effect: Effect | undefined; error: Error }[];
};
type Step = (items: readonly CommitItem[]) => Scripted | Error;

/** A committer that answers each commit with the next scripted step (then applies everything). */
class ScriptedCommitter implements Committer {
  readonly commits: string[][] = [];
  constructor(private readonly steps: Step[]) {}
  async commit<Item extends CommitItem>(_source: CommitSource | undefined, items: readonly Item[]): Promise<CommitReport<Item>> {
    this.commits.push(items.map((i) => i.entryId ?? '?'));
    const step = this.steps.shift();
    const result = step ? step(items) : {};
    if (result instanceof Error) throw result;
    for (const item of items) item.answer = 'committed';
    for (const [answer, positions] of Object.entries(result)) {
      if (answer === 'effectFailures') continue;
      for (const i of positions as number[]) items[i]!.answer = answer as CommitAnswer;
    }
    return { effectFailures: (result.effectFailures ?? []).map((f) => ({ ...f, item: items[f.item] })) };
  }
}

function fakeEnv(committer: Committer, options: { pending?: Set<string>; stop?: AbortSignal } = {}) {
  const registry = createRegistry();
  const metrics = runtimeMetrics(registry, { version: '0.1.0', commit: 'source' });
  const sleeps: number[] = [];
  const settled: string[] = [];
  const failures: string[] = [];
  const pipeline: PipelineEnv = {
    handler: echo,
    decision: stubDecisionEnv(),
    pace: immediatePace(),
    maxDeliveries: 5,
    deadLetter: { stream: 'dlq', maxLen: 0, sourceStream: 'in', group: 'g' },
  };
  const settle = new Settler({ handlerName: 'echo', metrics, jobs: { add: async () => undefined }, log: silent as never });
  const originalCommitted = settle.committed.bind(settle);
  settle.committed = async (items) => {
    settled.push(...items.map((i) => i.entryId ?? '?'));
    await originalCommitted(items);
  };
  const env: CommitLoopEnv = {
    handlerName: 'echo',
    committer,
    source: { stream: 'in', group: 'g', consumer: 'c' },
    metrics,
    log: silent as never,
    settle,
    rerun: (deliveries) => rerun(pipeline, deliveries),
    now: () => 1_000_000,
    claimIdleMs: 30_000,
    backoffMaxMs: 400,
    pendingIds: async (ids) => new Set(ids.filter((id) => options.pending?.has(id) ?? true)),
    waitForRedis: async () => undefined,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    stop: options.stop ?? new AbortController().signal,
    health: { noteWriteRefused: (detail) => failures.push(`refused:${detail}`), noteWriteAccepted: () => undefined },
    onProgress: () => undefined,
    onFailure: (failure) => failures.push(failure.cause),
    refusedKeys: new Map(),
  };
  return { env, pipeline, sleeps, settled, failures, registry };
}

const delivery = (id: string, raw: Record<string, string>, data: unknown, deliveries = 1) =>
  new Delivery({ id, raw, producedAt: 1 }, data, deliveries, id);
const inputs = (...messages: Record<string, string>[]): Delivery[] => messages.map((data, i) => delivery(`${i + 1}-0`, data, data));

describe('the message pipeline', () => {
  it('turns each input into exactly one commit item: handled, dead-lettered with the reason, or skipped', async () => {
    const { pipeline } = fakeEnv(new ScriptedCommitter([]));
    const batch = await prepareBatch(
      pipeline,
      [...inputs({ n: '1' }, { wrong: 'x' }), delivery('3-0', {}, null), delivery('4-0', { n: '4' }, { n: '4' }, 6)],
      0,
    );
    expect(batch.deliveries.map((i) => [i.entryId, i.outcome])).toEqual([
      ['1-0', { kind: 'handled' }],
      ['2-0', { kind: 'dead-letter', reason: 'invalid_input' }],
      ['3-0', { kind: 'skipped' }],
      ['4-0', { kind: 'dead-letter', reason: 'too_many_deliveries' }],
    ]);
    expect(batch.deliveries[1]!.extraEmits?.[0]?.stream).toBe('dlq');
    expect(batch.deliveries[1]!.extraEmits?.[0]?.fields.reason).toBe('invalid_input');
  });
});

describe('the commit loop', () => {
  it('commits a batch and settles each message once', async () => {
    const committer = new ScriptedCommitter([]);
    const { env, pipeline, settled } = fakeEnv(committer);
    const batch = await prepareBatch(pipeline, inputs({ n: '1' }, { n: '2' }), 1_000_000);
    expect(await commitBatch(env, batch)).toBe(true);
    expect(settled).toEqual(['1-0', '2-0']);
  });

  it('after a lost connection, settles what landed (no longer pending) and commits the rest again', async () => {
    const committer = new ScriptedCommitter([() => new Error('Connection is closed.')]);
    const { env, pipeline, settled, failures } = fakeEnv(committer, { pending: new Set(['2-0']) });
    const batch = await prepareBatch(pipeline, inputs({ n: '1' }, { n: '2' }), 1_000_000);
    expect(await commitBatch(env, batch)).toBe(true);
    expect(committer.commits).toEqual([['1-0', '2-0'], ['2-0']]);
    expect(settled.sort()).toEqual(['1-0', '2-0']);
    expect(failures).toEqual(['connection']);
  });

  it('keeps a message whose write Redis refused (a reply that changes) pending and retries it with a backoff that grows to the cap', async () => {
    let tries = 0;
    const refuse: Step = (items) => ({
      withheld: items.map((_, i) => i),
      effectFailures: [{ item: 0, effect: undefined, error: new ReplyError(`WRONGTYPE out holds a string, not a stream (${++tries})`) }],
    });
    const committer = new ScriptedCommitter([refuse, refuse, refuse, refuse, refuse, refuse]);
    const { env, pipeline, settled, sleeps, failures, registry } = fakeEnv(committer);
    const batch = await prepareBatch(pipeline, inputs({ n: '1' }), 1_000_000);
    expect(await commitBatch(env, batch)).toBe(true);
    expect(committer.commits).toHaveLength(7);
    expect(sleeps).toEqual([50, 100, 200, 400, 400, 400]);
    expect(settled).toEqual(['1-0']); // once, after the commit that applied
    expect(failures.every((f) => f === 'wrongtype')).toBe(true);
    expect(await registry.getSingleMetric('quantum_gates_commit_failures_total')!.get()).toMatchObject({
      values: [{ labels: { handler: 'echo', cause: 'wrongtype' }, value: 6 }],
    });
  });

  it('a refusal that repeats identically (a key of another type): the message is held, its key named, until the write lands; its decision is never replaced', async () => {
    const refuse: Step = () => ({
      withheld: [0],
      effectFailures: [
        {
          item: 0,
          effect: { op: 'setKey', key: 'k', value: 'v' },
          error: new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value'),
        },
      ],
    });
    const committer = new ScriptedCommitter([refuse, refuse, refuse, refuse, refuse]);
    const { env: base, pipeline, settled } = fakeEnv(committer);
    const named: string[][] = [];
    const env: CommitLoopEnv = {
      ...base,
      onFailure: (failure) => named.push([failure.cause, failure.message, ...base.refusedKeys.keys()]),
    };
    const batch = await prepareBatch(pipeline, inputs({ n: '1' }, { n: '2' }), 1_000_000);
    expect(await commitBatch(env, batch)).toBe(true);
    // Five refused commits of 1-0 (2-0 applied with the first), then the sixth lands it as decided.
    expect(committer.commits).toEqual([['1-0', '2-0'], ['1-0'], ['1-0'], ['1-0'], ['1-0'], ['1-0']]);
    expect(settled).toEqual(['2-0', '1-0']);
    expect(batch.deliveries[0]!.outcome).toEqual({ kind: 'handled' });
    expect(batch.deliveries[0]!.extraEmits).toBeUndefined();
    expect(named).toHaveLength(5);
    expect(named[4]).toEqual(['wrongtype', 'WRONGTYPE Operation against a key holding the wrong kind of value (writing k)', 'k']);
  });

  it('a dead letter refused identically three times is the one thing given up: acknowledged without it, counted lost', async () => {
    const refuse: Step = () => ({
      withheld: [0],
      effectFailures: [{ item: 0, effect: undefined, error: new ReplyError('WRONGTYPE dlq holds a string, not a stream') }],
    });
    const committer = new ScriptedCommitter([refuse, refuse, refuse]);
    const { env, pipeline, settled, registry } = fakeEnv(committer);
    const batch = await prepareBatch(pipeline, inputs({ wrong: 'x' }), 1_000_000);
    expect(await commitBatch(env, batch)).toBe(true);
    expect(committer.commits).toEqual([['1-0'], ['1-0'], ['1-0'], ['1-0']]);
    expect(settled).toEqual(['1-0']);
    expect(batch.deliveries[0]!.outcome).toEqual({ kind: 'dead-letter-lost', reason: 'invalid_input' });
    expect([...env.refusedKeys.keys()]).toEqual(['dlq']);
    expect(await registry.getSingleMetric('quantum_gates_dead_letters_lost_total')!.get()).toMatchObject({
      values: [{ labels: { handler: 'echo', reason: 'invalid_input' }, value: 1 }],
    });
  });

  it('tells health when Redis refuses writes (OOM), and gives up cleanly when the runtime stops meanwhile', async () => {
    const stop = new AbortController();
    const committer = new ScriptedCommitter([
      () => {
        stop.abort();
        return new ReplyError(
          "EXECABORT Transaction discarded because of previous errors: OOM command not allowed when used memory > 'maxmemory'.",
        );
      },
    ]);
    const { env, pipeline, settled, failures } = fakeEnv(committer, { stop: stop.signal });
    const batch = await prepareBatch(pipeline, inputs({ n: '1' }), 1_000_000);
    expect(await commitBatch(env, batch)).toBe(false);
    expect(settled).toEqual([]);
    expect(failures[0]).toBe('oom');
    expect(failures[1]).toMatch(/^refused:EXECABORT/);
  });

  it('re-runs the messages whose guards lost a race, then commits them', async () => {
    const committer = new ScriptedCommitter([() => ({ conflicted: [1] })]);
    const { env, pipeline, settled } = fakeEnv(committer);
    const batch = await prepareBatch(pipeline, inputs({ n: '1' }, { n: '2', key: 'k' }), 1_000_000);
    expect(await commitBatch(env, batch)).toBe(true);
    expect(committer.commits).toEqual([['1-0', '2-0'], ['2-0']]);
    expect(settled).toEqual(['1-0', '2-0']);
  });

  it('reports a lost consumer group instead of retrying: the batch is no longer this consumer’s', async () => {
    const committer = new ScriptedCommitter([() => new ReplyError('NOGROUP No such key or consumer group')]);
    const { env, pipeline, settled } = fakeEnv(committer);
    const batch = await prepareBatch(pipeline, inputs({ n: '1' }), 1_000_000);
    await expect(commitBatch(env, batch)).rejects.toBeInstanceOf(GroupLostError);
    expect(settled).toEqual([]);
  });
});
