import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { defineHandler, type AnyHandler, type FailureInfo } from '../../runtime/contract/handler.js';
import { Delivery } from '../../runtime/engine/delivery.js';
import { executeBatch } from '../../runtime/engine/execute.js';
import { stubExecutionEnv } from '../support/execution-env.js';

const deliveries = (...ns: string[]) =>
  ns.map((n, i) => {
    const delivery = new Delivery({ id: `${i + 1}-0`, raw: { n }, producedAt: 1 }, { n }, 1, `${i + 1}-0`);
    delivery.message = { n };
    return delivery;
  });

type Failure = { policy: 'dead-letter' } | { policy: 'fail-closed'; fallback: (message: { n: string }, failure: FailureInfo) => void };

/**
 * A gate whose synchronous handle emits `n`, then throws (not returning a rejected promise) for
 * message `n` while `throwsFor(n, attempt)` says so; `calls` counts each message's attempts.
 */
function synchronous(throwsFor: (n: string, attempt: number) => boolean, failure: Failure = { policy: 'dead-letter' }) {
  const calls = new Map<string, number>();
  const returned: unknown[] = [];
  const handler: AnyHandler = defineHandler({
    name: 'sync',
    description: 'test',
    trigger: { kind: 'stream', stream: () => 'in', group: () => 'g' },
    input: z.looseObject({ n: z.string() }),
    config: () => ({}),
    metrics: () => ({}),
    failure: { maxAttempts: 3, backoffMs: 0, ...failure } as AnyHandler['failure'],
    handle: (message, ctx) => {
      const attempt = (calls.get(message.n) ?? 0) + 1;
      calls.set(message.n, attempt);
      ctx.emit('out', { n: message.n, attempt: String(attempt) });
      if (throwsFor(message.n, attempt)) throw new Error(`boom ${message.n}`);
    },
  });
  // What handle answers, as the runtime sees it: nothing, never a promise.
  const wrapped: AnyHandler = {
    ...handler,
    handle: (message, ctx) => {
      const answer = handler.handle(message, ctx);
      returned.push(answer);
      return answer;
    },
  };
  return { handler: wrapped, calls, returned };
}

async function run(handler: AnyHandler, batch: Delivery[]) {
  const rejected: string[] = [];
  await executeBatch(handler, stubExecutionEnv(), batch, (d, reason, detail) => rejected.push(`${d.meta.id} ${reason}: ${detail}`));
  return {
    rejected,
    outcomes: batch.map((d) => ({
      outcome: d.outcome.kind,
      attempts: d.attempts,
      emitted: d.recorder?.effects.map((e) => (e.op === 'emit' ? e.fields : undefined)) ?? [],
    })),
  };
}

describe('executeBatch with a synchronous handler that throws', () => {
  it('a throw is the message’s failure: retried, its failed attempt’s effects dropped, the others of the batch handled once', async () => {
    const gate = synchronous((n, attempt) => n === 'b' && attempt === 1);
    const { outcomes, rejected } = await run(gate.handler, deliveries('a', 'b', 'c'));
    expect(outcomes).toEqual([
      { outcome: 'handled', attempts: 1, emitted: [{ n: 'a', attempt: '1' }] },
      { outcome: 'handled', attempts: 2, emitted: [{ n: 'b', attempt: '2' }] },
      { outcome: 'handled', attempts: 1, emitted: [{ n: 'c', attempt: '1' }] },
    ]);
    expect(rejected).toEqual([]);
    expect(Object.fromEntries(gate.calls)).toEqual({ a: 1, b: 2, c: 1 });
    expect(gate.returned.every((answer) => answer === undefined)).toBe(true);
  });

  it('a throw every time: after maxAttempts (3) the dead-letter policy, with the thrown error', async () => {
    const gate = synchronous((n) => n === 'b');
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
    const gate = synchronous(() => true, { policy: 'fail-closed', fallback: (_message, failure) => void failures.push(failure) });
    const { outcomes, rejected } = await run(gate.handler, deliveries('a'));
    expect(outcomes.map((o) => o.outcome)).toEqual(['fallback']);
    expect(rejected).toEqual([]);
    expect(failures).toEqual([{ error: new Error('boom a'), attempts: 3 }]);
  });
});

describe('executeBatch with a state already asked for', () => {
  /** A gate whose loadState counts its reads; handle throws on message `b`'s first attempt. */
  function withState() {
    let loads = 0;
    const states: string[] = [];
    const handler: AnyHandler = defineHandler({
      name: 'stateful',
      description: 'test',
      trigger: { kind: 'stream', stream: () => 'in', group: () => 'g' },
      input: z.looseObject({ n: z.string() }),
      config: () => ({}),
      metrics: () => ({}),
      batch: { readsOwnWrites: false, loadState: async () => `loaded ${++loads}` },
      failure: { maxAttempts: 3, backoffMs: 0, policy: 'dead-letter' },
      handle: (message, ctx) => {
        states.push(`${message.n}: ${String(ctx.state)}`);
        if (message.n === 'b' && states.filter((s) => s.startsWith('b')).length === 1) throw new Error('once');
      },
    });
    return { handler, states, loads: () => loads };
  }

  it('the first run uses it without reading; a retry reads the state afresh', async () => {
    const gate = withState();
    await executeBatch(gate.handler, stubExecutionEnv(), deliveries('a', 'b'), () => undefined, Promise.resolve('read ahead'));
    expect(gate.states).toEqual(['a: read ahead', 'b: read ahead', 'b: loaded 1']);
    expect(gate.loads()).toBe(1);
  });

  it('a state read ahead that failed fails the first run only: the retry reads it and handles the batch', async () => {
    const gate = withState();
    const failedRead = Promise.reject(new Error('read ahead lost'));
    failedRead.catch(() => undefined);
    const batch = deliveries('a', 'c');
    await executeBatch(gate.handler, stubExecutionEnv(), batch, () => undefined, failedRead);
    expect(gate.states).toEqual(['a: loaded 1', 'c: loaded 1']);
    expect(batch.map((d) => [d.outcome.kind, d.attempts])).toEqual([
      ['handled', 2],
      ['handled', 2],
    ]);
  });
});
