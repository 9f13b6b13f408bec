import { afterEach, describe, expect, it } from 'vitest';
import { COOLDOWN_QUEUE } from '../../handlers/governor/record.js';
import { jobDoneKey } from '../../runtime/engine/idempotency.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime } from '../support/runtime.js';
import { untilKeys } from '../support/until.js';

/**
 * A job's effects commit with its done record (runtime/engine/idempotency.ts), but BullMQ learns that it
 * completed in a second, separate write. A process killed, or a connection lost, between the two
 * leaves a job BullMQ delivers again although its effects are in Redis. The fault is made exact
 * here: the completed job is removed from BullMQ and the same job id delivered again, as a stalled
 * job's recovery would.
 */
describe('a job whose commit landed but whose completion was lost (chaos)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const expiredEvents = async (planId: string) =>
    (await readStream(redis.client, streams.governorEvents)).filter((e) => e.event === 'cooldown_expired' && e.plan_id === planId);

  it('is delivered again and applies nothing twice', async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor-cooldown' });
    const queue = runtime.services.jobs.queue(COOLDOWN_QUEUE);
    const startedAt = Date.now() - 1000;
    const job = {
      queue: COOLDOWN_QUEUE,
      name: 'cooldown-expired',
      data: { symbol: 'BTCUSDT', plan_id: 'lost-1', started_at: startedAt, until: startedAt + 1000 },
      delayMs: 0,
      jobId: 'lost-completion-1',
    };
    // BullMQ's completion moves the job into the queue's completed set: woken by that key's change.
    const completed = (what: string) =>
      untilKeys(redis.client, [queue.keys.completed!], async () => (await queue.getJobState(job.jobId)) === 'completed', { what });
    await runtime.services.jobs.add([job]);
    await completed('the first delivery completed');
    expect(await expiredEvents('lost-1')).toHaveLength(1);
    expect(await redis.client.exists(jobDoneKey(COOLDOWN_QUEUE, job.jobId))).toBe(1);

    // BullMQ forgets the completion; the effects and the done record stay in Redis.
    await (await queue.getJob(job.jobId))!.remove();
    await runtime.services.jobs.add([job]);
    await completed('the second delivery completed');

    expect(await expiredEvents('lost-1')).toHaveLength(1);
    expect(await queue.getJobCounts('wait', 'delayed', 'active', 'failed')).toEqual({ wait: 0, delayed: 0, active: 0, failed: 0 });
  });
});
