import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineHandler, type IdempotencyKey, type MetricFactory } from '../../runtime/contract/index.js';
import { parseEnv } from '../../schemas/env.js';
import { guardFallback, handleOnce, JOB_DONE_TTL_SEC, jobDoneKey } from '../../runtime/engine/idempotency.js';
import { applyMetricCalls } from '../../runtime/engine/metrics.js';
import { fakeCtx } from '../support/fake-ctx.js';
import type { FakeRedisData } from '../support/fake-redis-reader.js';

// The runtime's side of declared idempotency (runtime/engine/idempotency.ts): what it checks before
// handle, and what it guards in the commit.
const NOW = 1_800_000_000_000;

function gate(keys: ((message: { id: string }) => readonly IdempotencyKey[]) | undefined) {
  return defineHandler({
    name: 'once',
    description: 'test gate',
    trigger: { kind: 'stream', stream: () => 'in', group: () => 'g' },
    input: z.looseObject({ id: z.string() }),
    config: (env) => parseEnv(z.object({}), env),
    metrics: (m: MetricFactory) => ({
      handled: m.counter({ name: 'handled_total', help: 'handled' }),
      duplicates: m.counter({ name: 'duplicates_total', help: 'duplicates' }),
    }),
    failure: {
      maxAttempts: 1,
      backoffMs: 0,
      policy: 'fail-closed',
      fallback: (message, _failure, ctx) => ctx.emit('out', { id: message.id }),
    },
    idempotency: { ...(keys ? { keys } : {}), onDuplicate: (_message, ctx) => ctx.metrics.duplicates.inc() },
    async handle(message, ctx) {
      ctx.metrics.handled.inc();
      ctx.emit('out', { id: message.id });
    },
  });
}

async function once(handler: ReturnType<typeof gate>, redis: FakeRedisData = {}, doneKey?: string) {
  const run = await fakeCtx(handler, { redis, now: NOW, meta: { id: `${NOW}-5` } });
  await handleOnce(handler, { id: 'a' }, run.ctx, doneKey);
  run.commit();
  return run;
}

describe('declared idempotency', () => {
  const byExistence = gate((m) => [`done:${m.id}`]);
  const newestWins = gate(() => [{ key: 'applied', id: `${NOW}-5` }]);

  it('handles a message whose keys are absent, and guards them at commit', async () => {
    const run = await once(byExistence);
    expect(run.emitted('out')).toEqual([{ id: 'a' }]);
    expect(run.recorder.guards).toEqual([{ kind: 'absent', key: 'done:a' }]);
  });

  it('runs onDuplicate instead of handle when a key exists, of any type', async () => {
    for (const redis of [{ strings: { 'done:a': '1' } }, { hashes: { 'done:a': { f: 'v' } } }]) {
      const run = await once(byExistence, redis);
      expect(run.recorder.effects).toEqual([]);
      expect(run.recorder.guards).toEqual([]);
      expect(run.metrics.get('handled_total')).toBeUndefined();
      expect(run.metrics.get('duplicates_total')).toBe(1);
    }
  });

  it('newest wins: a key holding a later stream id is a duplicate; an equal or earlier one is not', async () => {
    expect((await once(newestWins, { strings: { applied: `${NOW}-6` } })).metrics.get('duplicates_total')).toBe(1);
    for (const applied of [`${NOW}-5`, `${NOW}-4`]) {
      const run = await once(newestWins, { strings: { applied } });
      expect(run.metrics.get('handled_total')).toBe(1);
      expect(run.recorder.condition).toMatchObject({ key: 'applied', id: `${NOW}-5` });
    }
  });

  it('newest wins at commit: a message the commit skips counts onDuplicate metric updates only', async () => {
    const run = await fakeCtx(newestWins, { now: NOW, meta: { id: `${NOW}-5` } });
    await handleOnce(newestWins, { id: 'a' }, run.ctx, undefined);
    // The commit found a later id: it applies the skipped message's onSkip updates, not the handler's.
    applyMetricCalls(run.recorder.skippedMetricCalls());
    expect(run.metrics.get('duplicates_total')).toBe(1);
    expect(run.metrics.get('handled_total')).toBeUndefined();
  });

  it('records a job as done in its commit, guarded, for a day', async () => {
    const doneKey = jobDoneKey('q', 'job-1');
    expect(doneKey).toBe('quantum:gates:job-done:q:job-1');
    const run = await once(gate(undefined), {}, doneKey);
    expect(run.recorder.guards).toEqual([{ kind: 'absent', key: doneKey }]);
    expect(run.recorder.effects).toContainEqual({ op: 'setKey', key: doneKey, value: String(NOW), ttlSec: JOB_DONE_TTL_SEC });

    const again = await once(gate(undefined), { strings: { [doneKey]: String(NOW) } }, doneKey);
    expect(again.recorder.effects).toEqual([]);
    expect(again.metrics.get('duplicates_total')).toBe(1);
  });

  it('guards a fallback the same way, and records a job done by its fallback', async () => {
    const handler = gate((m) => [`done:${m.id}`]);
    const run = await fakeCtx(handler, { now: NOW, state: undefined });
    guardFallback(handler, { id: 'a' }, run.ctx, 'quantum:gates:job-done:q:job-2');
    expect(run.recorder.guards).toEqual([
      { kind: 'absent', key: 'done:a' },
      { kind: 'absent', key: 'quantum:gates:job-done:q:job-2' },
    ]);
    expect(run.recorder.effects).toContainEqual(expect.objectContaining({ op: 'setKey', key: 'quantum:gates:job-done:q:job-2' }));
  });
});
