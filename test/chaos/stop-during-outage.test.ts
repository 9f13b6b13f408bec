import { describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { startTestRedis } from '../support/redis-server.js';
import { startRuntime, waitFor } from '../support/runtime.js';

const JOB_GATES = ['risk-budget', 'position-index', 'governor-cooldown'];

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
      const outcome = await Promise.race([
        runtime.stop().then(() => 'stopped'),
        // A hang is forever (it was, before the fix); the bound leaves a loaded machine room for the stop's own
        // bounds (a job in hand's commands, COMMAND_TIMEOUT_MS for BullMQ's close): a CI run under the chaos suite took over 20 s.
        new Promise((r) => setTimeout(() => r('still stopping after 45 s'), 45_000)),
      ]);
      expect(outcome).toBe('stopped');
    } finally {
      await redis.stop().catch(() => undefined);
    }
  }, 90_000);
});
