import { Queue, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { JobQueues, scheduledJobOptions } from '../../runtime/sources/job-queues.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { waitFor } from '../support/runtime.js';

/** A commit's jobs through JobQueues (one Queue.addBulk per queue). */
describe('JobQueues on a real redis-server', () => {
  const redis = usePrivateRedis();
  const closing: { close(): Promise<unknown> }[] = [];
  afterEach(async () => {
    for (const c of closing.splice(0).reverse()) await c.close();
  });

  const connection = () => ({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null });
  const queueOf = (name: string) => {
    const queue = new Queue(name, { connection: connection(), prefix: 'bull' });
    closing.push(queue);
    return queue;
  };
  const job = (n: number, delayMs = 60_000) => ({
    queue: 'again',
    name: 'cooldown-expired',
    data: { symbol: `SYM${n}USDT`, plan_id: `plan-${n}` },
    delayMs,
    jobId: `cooldown-SYM${n}USDT-${n}`,
  });

  it('stores delayed jobs with the scheduled options, and leaves a job whose id exists as it is', async () => {
    const queue = queueOf('again');
    await queue.add(job(1).name, { first: true }, { ...scheduledJobOptions, jobId: job(1).jobId, delay: 60_000 });
    const sink = new JobQueues(connection(), 'bull');
    closing.push(sink);
    await sink.add([job(1), job(2), { ...job(3, 0), jobId: 'due-now' }]);
    expect((await queue.getJob('cooldown-SYM1USDT-1'))!.data).toEqual({ first: true });
    const second = (await queue.getJob('cooldown-SYM2USDT-2'))!;
    expect(second.data).toEqual(job(2).data);
    expect(second.opts).toMatchObject({ attempts: scheduledJobOptions.attempts, delay: 60_000, removeOnComplete: { count: 1000 } });
    expect(await second.getState()).toBe('delayed');
    expect(await (await queue.getJob('due-now'))!.getState()).toBe('waiting');
  });

  it('jobs a commit schedules (JobQueues) are run by a real BullMQ worker once due, each once', async () => {
    const sink = new JobQueues(connection(), 'bull');
    closing.push(sink);
    const jobs = Array.from({ length: 25 }, (_, n) => ({
      queue: 'due',
      name: 'cooldown-expired',
      data: { n },
      delayMs: 50 + n,
      jobId: `due-${n}`,
    }));
    await sink.add(jobs);
    expect(await redis.client.zcard('bull:due:delayed')).toBe(25);
    const seen: number[] = [];
    const worker = new Worker(
      'due',
      async (j) => {
        seen.push((j.data as { n: number }).n);
        return 'ok';
      },
      { connection: connection(), prefix: 'bull', concurrency: 8 },
    );
    closing.push(worker);
    await waitFor(async () => seen.length === 25, { what: 'all 25 jobs run', timeoutMs: 10_000 });
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, n) => n));
    await waitFor(async () => (await queueOf('due').getJobCounts('completed')).completed === 25, { what: '25 completed' });
  });
});
