import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { defineHandler, type AnyHandler } from '../../runtime/contract/handler.js';
import { Delivery } from '../../runtime/engine/delivery.js';
import { executeBatch } from '../../runtime/engine/execute.js';
import { immediatePace, stubDecisionEnv } from '../support/execution-env.js';

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
  await executeBatch(
    failingFirst(errors),
    stubDecisionEnv(),
    [delivery],
    (_d, reason, detail) => rejected.push(`${reason}: ${detail}`),
    immediatePace(stopping),
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

  // ioredis 6.0.0's own words for a command it sent and never got an answer to (built/redis/event_handler.js
  // abortError, built/utils CONNECTION_CLOSED_ERROR_MSG, built/Redis.js, built/cluster/index.js,
  // built/connectors/SentinelConnector/index.js): each means Redis never answered, none is the message's.
  it.each([
    // An auto-pipelined command behind one whose reply arrived, when the connection closes (the
    // governor's symbol reads: every gate connection killed, test/chaos/governor-caps-kills.test.ts).
    'Command aborted due to connection close',
    'Connection is closed.',
    "Stream isn't writeable and enableOfflineQueue options is false",
    'Reached the max retries per request limit (which is 0). Refer to "maxRetriesPerRequest" option for details.',
    "Socket timeout. Expecting data, but didn't receive any in 5000ms.",
    'connect ETIMEDOUT',
    'connect EHOSTUNREACH 10.0.0.7:6379',
    'Connection is aborted',
    'Connection is discarded because a new connection is made',
    'None of startup nodes is available',
    'Cluster is disconnected.',
    "Cluster isn't ready and enableOfflineQueue options is false",
    'Node is disconnected',
    'No master node is available for the pipeline',
    'All sentinels are unreachable. Retrying from scratch after 10ms.',
  ])('%s: held, handled once Redis answers, never charged', async (message) => {
    expect(await outcome([new Error(message), new Error(message), new Error(message), new Error(message)])).toEqual({
      outcome: 'handled',
      rejected: [],
    });
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
