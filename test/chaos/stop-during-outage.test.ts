import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { defineHandler, type AnyHandler } from '../../runtime/contract/handler.js';
import { TransactionCommitter } from '../../runtime/engine/commit.js';
import type { RedisClient } from '../../runtime/engine/connection.js';
import { parseEnv } from '../../schemas/env.js';
import { startTestRedis } from '../support/redis-server.js';
import { startRuntime, waitFor } from '../support/runtime.js';
import type { Runtime } from '../../runtime/host/runtime.js';

const JOB_GATES = ['risk-budget', 'position-index', 'governor-cooldown'];

/**
 * 'stopped' once the runtime's stop returns. A hang is forever (each case hung before its fix); the bound leaves a loaded
 * machine room for the stop's own bounds (a job in hand's commands, COMMAND_TIMEOUT_MS for BullMQ's close): a CI run under
 * the chaos suite took over 20 s.
 */
function stopped(runtime: Runtime): Promise<unknown> {
  return Promise.race([runtime.stop().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('still stopping after 45 s'), 45_000))]);
}

/**
 * A stop while Redis is down: BullMQ's graceful close waited for an 'end' its blocking connection,
 * parked between reconnect attempts, never emits (taskforcesh/bullmq#4656), and the stop with it.
 */
describe('a stop during a Redis outage', () => {
  it('returns with the BullMQ gates hosted, their connections reconnecting', async () => {
    const redis = await startTestRedis();
    const runtime = await startRuntime(redis.url, { HANDLERS: JOB_GATES.join(','), BUDGET_COMPUTE_INTERVAL_SEC: '1' }, allHandlers);
    try {
      const consumers = () => runtime.services.consumers.filter((c) => JOB_GATES.includes(c.handler));
      await waitFor(() => consumers().every((c) => c.consuming) || undefined, { what: 'the job gates consuming' });
      await redis.kill();
      await waitFor(() => consumers().every((c) => !c.consuming) || undefined, { what: 'the job gates to see the outage' });
      // Past a few reconnect attempts, so each connection waits between two of them.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await stopped(runtime)).toBe('stopped');
    } finally {
      await redis.stop().catch(() => undefined);
    }
  }, 90_000);

  it('returns with a commit waiting for Redis: a message decided before the outage and committed during it', async () => {
    const redis = await startTestRedis();
    let entered: () => void = () => undefined;
    const inHandle = new Promise<void>((resolve) => (entered = resolve));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const held: AnyHandler = defineHandler({
      name: 'held',
      description: 'test handler: decides once the test lets it',
      trigger: { kind: 'stream', stream: () => 'held:in', group: () => 'held' },
      input: z.looseObject({}),
      config: (env) => parseEnv(z.object({}), env),
      metrics: () => ({}),
      failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter' },
      async handle(_message, ctx) {
        entered();
        await released;
        ctx.emit('held:out', { n: '1' });
      },
    });
    let committer: RedisClient | undefined;
    const committerFactory = (connection: RedisClient) => new TransactionCommitter((committer = connection), 0);
    const runtime = await startRuntime(redis.url, {}, [held], { committerFactory });
    try {
      await redis.client.xadd('held:in', '*', 'n', '1');
      await inHandle;
      const closed = new Promise((resolve) => committer!.once('close', resolve));
      await redis.kill();
      await closed;
      // Its commit now waits for the committer's connection, which reconnects for as long as Redis is down.
      release();
      expect(await stopped(runtime)).toBe('stopped');
    } finally {
      await redis.stop().catch(() => undefined);
    }
  }, 90_000);
});
