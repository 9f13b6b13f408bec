import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { defineHandler, type AnyHandler } from '../../runtime/contract/handler.js';
import { Delivery } from '../../runtime/engine/delivery.js';
import { executeBatch } from '../../runtime/engine/execute.js';
import { stubExecutionEnv } from '../support/execution-env.js';

/** A gate whose handle throws `errors` in turn, then emits; three attempts, then dead letters. */
function failingFirst(errors: Error[]): AnyHandler {
  let calls = 0;
  return defineHandler({
    name: 'flaky',
    description: 'test',
    trigger: { kind: 'stream', stream: () => 'in', group: () => 'g' },
    input: z.looseObject({}),
    config: () => ({}),
    metrics: () => ({}),
    failure: { maxAttempts: 3, backoffMs: 0, policy: 'dead-letter' },
    handle: async (_message, ctx) => {
      const error = errors[calls++];
      if (error !== undefined) throw error;
      ctx.emit('out', { done: '1' });
    },
  });
}

async function outcome(errors: Error[], stopping = () => false) {
  const delivery = new Delivery({ id: '1-0', raw: {}, producedAt: 1 }, {}, 1, '1-0');
  const rejected: string[] = [];
  await executeBatch(failingFirst(errors), { ...stubExecutionEnv(), stopping }, [delivery], (_d, reason, detail) =>
    rejected.push(`${reason}: ${detail}`),
  );
  return { outcome: delivery.outcome.kind, rejected };
}

describe('a failure Redis caused by not answering is not charged to the message (issue #37 item 5)', () => {
  it('ten timed-out reads while the health probe still says Redis is up: handled once Redis answers, never dead-lettered', async () => {
    const timeouts = Array.from({ length: 10 }, () => new Error('Command timed out'));
    expect(await outcome(timeouts)).toEqual({ outcome: 'handled', rejected: [] });
  });

  it('a dropped connection and BUSY likewise', async () => {
    const errors = [new Error('Connection is closed.'), new Error('BUSY Redis is busy running a script'), new Error('ECONNRESET')];
    expect(await outcome([...errors, ...errors])).toEqual({ outcome: 'handled', rejected: [] });
  });

  it('a failure of the message itself is still charged: dead-lettered after three attempts', async () => {
    const wrong = Array.from({ length: 3 }, () => new Error('WRONGTYPE Operation against a key holding the wrong kind of value'));
    const { outcome: kind, rejected } = await outcome(wrong);
    expect(kind).toBe('left-pending');
    expect(rejected).toEqual([expect.stringMatching(/^handler_failed: Error: WRONGTYPE/)]);
  });

  it('stopping while Redis does not answer leaves the message pending, unhandled', async () => {
    const timeouts = Array.from({ length: 10 }, () => new Error('Command timed out'));
    let asked = 0;
    expect(await outcome(timeouts, () => ++asked > 2)).toEqual({ outcome: 'left-pending', rejected: [] });
  });
});
