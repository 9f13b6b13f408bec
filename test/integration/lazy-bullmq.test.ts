import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { parseEnv } from '../../schemas/env.js';
import { defineHandler } from '../../runtime/contract/handler.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { produce, startRuntime, waitFor } from '../support/runtime.js';
import { untilStreamLength } from '../support/until.js';

const IN = 'qg:test:lazy-in';
const QUEUE = 'qg-test-lazy-scheduled';

/** A stream gate that schedules a delayed job for each message: BullMQ is needed only from its first commit. */
const scheduler = defineHandler({
  name: 'test-lazy-scheduler',
  description: 'schedules one delayed job a message',
  trigger: { kind: 'stream', stream: () => IN, group: () => 'lazy' },
  input: z.looseObject({ n: z.string() }),
  config: (env) => parseEnv(z.object({}), env),
  metrics: () => ({}),
  failure: { maxAttempts: 3, backoffMs: 10, policy: 'dead-letter' },
  async handle(message, ctx) {
    ctx.emit('qg:test:lazy-out', { n: message.n });
    ctx.schedule({ queue: QUEUE, name: 'later', data: { n: message.n }, delayMs: 3_600_000, jobId: `lazy-${message.n}` });
  },
});

/** A process's BullMQ is loaded only where a gate needs it (runtime/sources/job-queues.ts). */
describe('BullMQ loaded on need', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const metricsText = async (r: Runtime) => (await r.server.inject({ method: 'GET', url: '/metrics' })).body;

  it('a process of stream gates that schedule nothing never loads it, and stops cleanly', async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate' });
    expect(runtime.services.jobs.loaded).toBe(false);
    expect(runtime.services.jobs.allQueues()).toEqual([]);
    expect(() => runtime!.services.jobs.queue('anything')).toThrow(/not loaded/);
    expect(await metricsText(runtime)).not.toContain('bullmq_');
    await runtime.stop();
    runtime = undefined;
  });

  it('a gate with a schedule or queue trigger has it loaded before it starts', async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'governor-cooldown' });
    expect(runtime.services.jobs.loaded).toBe(true);
    expect(runtime.services.jobs.allQueues().map((q) => q.name)).toEqual(['governor-cooldown']);
  });

  it("a stream gate's first ctx.schedule loads it: the job is stored and its queue counted on /metrics", async () => {
    runtime = await startRuntime(redis.url, {}, [scheduler]);
    expect(runtime.services.jobs.loaded).toBe(false);
    await produce(redis.client, IN, [{ n: '1' }, { n: '2' }]);
    await untilStreamLength(redis.client, 'qg:test:lazy-out', 2, { what: 'both messages committed' });

    await waitFor(() => runtime!.services.jobs.loaded, { what: 'BullMQ loaded' });
    const queue = runtime.services.jobs.queue(QUEUE);
    await waitFor(async () => (await queue.getJobState('lazy-2')) === 'delayed', { what: 'the second job stored' });
    expect(await queue.getJobState('lazy-1')).toBe('delayed');
    expect(await metricsText(runtime)).toMatch(new RegExp(`^bullmq_job_count\\{queue="${QUEUE}", state="delayed"\\} 2$`, 'm'));
  });
});
