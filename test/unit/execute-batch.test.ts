import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { defineHandler, type AnyHandler, type FailureInfo } from '../../runtime/contract/handler.js';
import { Delivery } from '../../runtime/engine/delivery.js';
import { executeBatch } from '../../runtime/engine/execute.js';
import { immediatePace, stubDecisionEnv } from '../support/execution-env.js';

const deliveries = (...ns: string[]) =>
  ns.map((n, i) => {
    const delivery = new Delivery({ id: `${i + 1}-0`, raw: { n }, producedAt: 1 }, { n }, 1, `${i + 1}-0`);
    delivery.message = { n };
    return delivery;
  });

type Failure = { policy: 'dead-letter' } | { policy: 'fail-closed'; fallback: (message: { n: string }, failure: FailureInfo) => void };

/** A gate that emits `n`, then throws for message `n` while `throwsFor(n, attempt)` says so; `calls` counts each message's attempts. */
function throwing(throwsFor: (n: string, attempt: number) => boolean, failure: Failure = { policy: 'dead-letter' }) {
  const calls = new Map<string, number>();
  const handler: AnyHandler = defineHandler({
    name: 'throwing',
    description: 'test',
    trigger: { kind: 'stream', stream: () => 'in', group: () => 'g' },
    input: z.looseObject({ n: z.string() }),
    config: () => ({}),
    metrics: () => ({}),
    failure: { maxAttempts: 3, backoffMs: 0, ...failure } as AnyHandler['failure'],
    handle: async (message, ctx) => {
      const attempt = (calls.get(message.n) ?? 0) + 1;
      calls.set(message.n, attempt);
      ctx.emit('out', { n: message.n, attempt: String(attempt) });
      if (throwsFor(message.n, attempt)) throw new Error(`boom ${message.n}`);
    },
  });
  return { handler, calls };
}

async function run(handler: AnyHandler, batch: Delivery[]) {
  const rejected: string[] = [];
  await executeBatch(
    handler,
    stubDecisionEnv(),
    batch,
    (d, reason, detail) => rejected.push(`${d.meta.id} ${reason}: ${detail}`),
    immediatePace(),
  );
  return {
    rejected,
    outcomes: batch.map((d) => ({
      outcome: d.outcome.kind,
      attempts: d.attempts,
      emitted: d.recorder?.effects.map((e) => (e.op === 'emit' ? e.fields : undefined)) ?? [],
    })),
  };
}

describe('executeBatch with a handler that throws', () => {
  it('a throw is the message’s failure: retried, its failed attempt’s effects dropped, the others of the batch handled once', async () => {
    const gate = throwing((n, attempt) => n === 'b' && attempt === 1);
    const { outcomes, rejected } = await run(gate.handler, deliveries('a', 'b', 'c'));
    expect(outcomes).toEqual([
      { outcome: 'handled', attempts: 1, emitted: [{ n: 'a', attempt: '1' }] },
      { outcome: 'handled', attempts: 2, emitted: [{ n: 'b', attempt: '2' }] },
      { outcome: 'handled', attempts: 1, emitted: [{ n: 'c', attempt: '1' }] },
    ]);
    expect(rejected).toEqual([]);
    expect(Object.fromEntries(gate.calls)).toEqual({ a: 1, b: 2, c: 1 });
  });

  it('a throw every time: after maxAttempts (3) the dead-letter policy, with the thrown error', async () => {
    const gate = throwing((n) => n === 'b');
    const { outcomes, rejected } = await run(gate.handler, deliveries('a', 'b'));
    expect(outcomes.map((o) => [o.outcome, o.attempts])).toEqual([
      ['handled', 1],
      ['left-pending', 3],
    ]);
    expect(rejected).toEqual(['2-0 handler_failed: Error: boom b']);
    expect(gate.calls.get('b')).toBe(3);
  });

  it('a throw every time under a fallback policy: the fallback gets the error and the attempts', async () => {
    const failures: FailureInfo[] = [];
    const gate = throwing(() => true, { policy: 'fail-closed', fallback: (_message, failure) => void failures.push(failure) });
    const { outcomes, rejected } = await run(gate.handler, deliveries('a'));
    expect(outcomes.map((o) => o.outcome)).toEqual(['fallback']);
    expect(rejected).toEqual([]);
    expect(failures).toEqual([{ error: new Error('boom a'), attempts: 3 }]);
  });
});

describe('executeBatch: one message after another', () => {
  it('each message is handled once the one before it has finished, in batch order, on the batch state; a retry reads the state afresh', async () => {
    let loads = 0;
    const events: string[] = [];
    const handler: AnyHandler = defineHandler({
      name: 'ordered',
      description: 'test',
      trigger: { kind: 'stream', stream: () => 'in', group: () => 'g' },
      input: z.looseObject({ n: z.string() }),
      config: () => ({}),
      metrics: () => ({}),
      batch: { loadState: async () => `state ${++loads}` },
      failure: { maxAttempts: 3, backoffMs: 0, policy: 'dead-letter' },
      handle: async (message, ctx) => {
        events.push(`start ${message.n} on ${String(ctx.state)}`);
        // A slow first message: a concurrent runtime would start the next meanwhile.
        if (message.n === 'a') await new Promise((resolve) => setImmediate(resolve));
        events.push(`end ${message.n}`);
        if (message.n === 'b' && loads === 1) throw new Error('once');
      },
    });
    const batch = deliveries('a', 'b', 'c');
    await executeBatch(handler, stubDecisionEnv(), batch, () => undefined, immediatePace());
    expect(events).toEqual([
      'start a on state 1',
      'end a',
      'start b on state 1',
      'end b',
      'start c on state 1',
      'end c',
      'start b on state 2',
      'end b',
    ]);
    expect(batch.map((d) => [d.outcome.kind, d.attempts])).toEqual([
      ['handled', 1],
      ['handled', 2],
      ['handled', 1],
    ]);
  });
});
