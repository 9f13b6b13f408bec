import * as z from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { defineHandler, type AnyHandler, type HandlerContext } from '../../runtime/contract/handler.js';
import { TransactionCommitter, type Committer } from '../../runtime/engine/commit.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, pendingCount, produce, readStream, startRuntime } from '../support/runtime.js';
import { untilStreamLength } from '../support/until.js';

const IN = 'test:stream:commit-each-in';
const OUT = 'test:stream:commit-each-out';

interface Counted {
  readonly version: string | null;
  /** What was applied before, oldest first. */
  readonly applied: readonly string[];
}

/**
 * A gate shaped like the governor's caps (batch.commitEach): its state reads a version and the
 * list of what was applied (the reservations); each message guards on the version it read, bumps
 * it, adds itself to the list and writes what it counted, so a decision made on a view missing a
 * commit, or holding one that never applied, shows in its output.
 */
function capsGate(loads: { count: number }): AnyHandler {
  return defineHandler({
    name: 'caps',
    description: 'test gate building on its own decisions',
    trigger: { kind: 'stream', stream: () => IN, group: () => 'caps' },
    input: z.looseObject({ n: z.string() }),
    config: () => ({}),
    metrics: () => ({}),
    batch: {
      loadState: async (redis): Promise<Counted> => {
        loads.count += 1;
        const [version, applied] = await Promise.all([redis.get('version'), redis.lrange('applied', 0, -1)]);
        return { version, applied: applied.reverse() };
      },
      commitEach: true,
    },
    failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter' },
    async handle(message, ctx) {
      const { version, applied } = ctx.state as Counted;
      ctx.require('version', { is: 'holding', value: version });
      ctx.put('version', String(Number(version ?? '0') + 1));
      ctx.add('applied', message.n, { to: 'list', maxLength: 1000 });
      ctx.emit(OUT, { n: message.n, counted: applied.join(',') });
    },
  });
}

/**
 * capsGate declaring its own writes: `s` messages bump the version and append to the list (the
 * reservations), `o` ones write a key of their own, so a message shares the state of those before
 * it while they wrote only keys of their own and none it reads.
 */
function sharingGate(loads: { count: number }): AnyHandler {
  const caps = capsGate(loads);
  return defineHandler({
    ...caps,
    own: { reads: () => [], writes: (key: string) => key.startsWith('own:') || key === OUT },
    async handle(message: { n: string; kind?: string }, ctx: HandlerContext<unknown, unknown, object>) {
      if (message.kind === 's') return caps.handle(message, ctx);
      ctx.put(`own:${message.n}`, '1');
      ctx.emit(OUT, { n: message.n, counted: (ctx.state as Counted).applied.join(',') });
    },
  });
}

/** Each output counted exactly what was applied before it, in order: `expected` lists what was applied. */
function countedInOrder(outputs: readonly Record<string, string>[], applied: readonly string[]): void {
  for (const output of outputs) expect(output.counted).toBe(applied.slice(0, applied.indexOf(output.n!)).join(','));
}

describe('a commitEach gate: each message decided on what the ones before it committed', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('decides a batch read at once one message after another, each on its own state and after the one before committed', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `m${i}`);
    await produce(
      redis.client,
      IN,
      names.map((n) => ({ n })),
    );
    const loads = { count: 0 };
    runtime = await startRuntime(redis.url, { BATCH_SIZE: '50' }, [capsGate(loads)]);
    const outputs = await untilStreamLength(redis.client, OUT, 20, { what: 'every message decided' });

    expect(outputs.map((o) => o.n)).toEqual(names);
    countedInOrder(outputs, names);
    expect(loads.count).toBe(20);
    expect(await redis.client.get('version')).toBe('20');
    expect(await metricSum(runtime, 'quantum_gates_commit_conflicts_total')).toBe(0);
    expect(await pendingCount(redis.client, IN, 'caps')).toBe(0);
  });

  it('after a commit whose reply was lost (applied, or not applied while another writer moved on), the next message counts only what landed', async () => {
    const r = redis.client;
    const names = Array.from({ length: 8 }, (_, i) => `m${i}`);
    await produce(
      r,
      IN,
      names.map((n) => ({ n })),
    );
    let commits = 0;
    // The third commit applies and its reply is lost; the fifth never reaches Redis, and another
    // writer applies `x` meanwhile, so that message's guard no longer holds when it is sent again.
    const committerFactory = (connection: ConstructorParameters<typeof TransactionCommitter>[0]): Committer => {
      const real = new TransactionCommitter(connection, 0);
      return {
        async commit(source, items, stop) {
          commits += 1;
          if (commits === 3) {
            await real.commit(source, items, stop);
            throw new Error('Connection is closed.');
          }
          if (commits === 5) {
            const version = Number(await r.get('version'));
            await r
              .multi()
              .set('version', String(version + 1))
              .lpush('applied', 'x')
              .exec();
            throw new Error('Connection is closed.');
          }
          return real.commit(source, items, stop);
        },
      };
    };
    const loads = { count: 0 };
    runtime = await startRuntime(redis.url, { BATCH_SIZE: '50' }, [capsGate(loads)], { committerFactory });
    const outputs = await untilStreamLength(r, OUT, 8, { what: 'every message decided' });

    const applied = (await r.lrange('applied', 0, -1)).reverse();
    expect(applied).toEqual(['m0', 'm1', 'm2', 'm3', 'x', 'm4', 'm5', 'm6', 'm7']);
    expect(outputs.map((o) => o.n)).toEqual(names);
    countedInOrder(outputs, applied);
    expect(await r.get('version')).toBe('9');
    // m2's commit landed: settled from the pending list, never decided again; m4 was, on fresh data.
    expect(await metricSum(runtime, 'quantum_gates_commit_conflicts_total')).toBe(1);
    expect(await metricSum(runtime, 'quantum_gates_commit_failures_total', { cause: 'connection' })).toBe(2);
    expect(await pendingCount(r, IN, 'caps')).toBe(0);
    expect(await readStream(r, 'quantum:stream:dlq')).toEqual([]);
  });

  it('with own writes declared, decides the messages that read nothing an earlier one wrote on one state and in one commit, the next after it', async () => {
    // `s` messages bump the version and append to the list (the reservations); `o` ones write a key of their own.
    const kinds = ['o', 'o', 's', 'o', 'o', 's', 's', 'o'];
    await produce(
      redis.client,
      IN,
      kinds.map((kind, i) => ({ n: `m${i}`, kind })),
    );
    const loads = { count: 0 };
    runtime = await startRuntime(redis.url, { BATCH_SIZE: '50' }, [sharingGate(loads)]);
    const outputs = await untilStreamLength(redis.client, OUT, kinds.length, { what: 'every message decided' });

    expect(outputs.map((o) => o.n)).toEqual(kinds.map((_, i) => `m${i}`));
    // Each counted exactly the `s` messages before it: none was decided on a state missing one.
    for (const [i, output] of outputs.entries())
      expect(output.counted).toBe(kinds.flatMap((kind, j) => (kind === 's' && j < i ? [`m${j}`] : [])).join(','));
    // Runs: m0-m2 (the `s` ends it), m3-m5, m6, m7: four state reads for eight messages.
    expect(loads.count).toBe(4);
    expect(await redis.client.get('version')).toBe('3');
    expect(await metricSum(runtime, 'quantum_gates_commit_conflicts_total')).toBe(0);
    expect(await pendingCount(redis.client, IN, 'caps')).toBe(0);
  });

  it('with own writes declared, decides at most 64 messages on one state read', async () => {
    await produce(
      redis.client,
      IN,
      Array.from({ length: 150 }, (_, i) => ({ n: `m${i}`, kind: 'o' })),
    );
    const loads = { count: 0 };
    runtime = await startRuntime(redis.url, { BATCH_SIZE: '500' }, [sharingGate(loads)]);
    await untilStreamLength(redis.client, OUT, 150, { what: 'every message decided' });
    // 64, 64 and 22.
    expect(loads.count).toBe(3);
    expect(await pendingCount(redis.client, IN, 'caps')).toBe(0);
  });
});
