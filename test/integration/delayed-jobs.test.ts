import { Queue, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { addDelayedJobs, type DelayedJob } from '../../runtime/sources/delayed-jobs.js';
import { BullJobSink, scheduledJobOptions } from '../../runtime/sources/bull-job-sink.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { waitFor } from '../support/runtime.js';

/** A batch's delayed jobs in one call (runtime/sources/delayed-jobs.ts), against Queue.add. */
describe('addDelayedJobs on a real redis-server', () => {
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
  const job = (n: number, delay = 60_000): DelayedJob => ({
    name: 'cooldown-expired',
    data: { symbol: `SYM${n}USDT`, plan_id: `plan-${n}`, started_at: 1_800_000_000_000 + n, until: 1_800_000_060_000 + n },
    opts: { ...scheduledJobOptions, jobId: `cooldown-SYM${n}USDT-${n}`, delay },
  });

  /** A job's hash without the moment it was made (each path takes its own Date.now()). */
  async function stored(queue: string, id: string) {
    const { timestamp, ...rest } = await redis.client.hgetall(`bull:${queue}:${id}`);
    return { ...rest, timestamp: timestamp === undefined ? 'missing' : 'set' };
  }

  it('stores each job as Queue.add stores it: the job hash, the delayed set, the events, the id counter', async () => {
    const jobs = [job(1), job(2), job(3)];
    expect(await addDelayedJobs(queueOf('bulk'), jobs)).toBe(true);
    const plain = queueOf('plain');
    for (const j of jobs) await plain.add(j.name, j.data, j.opts);
    for (const j of jobs) {
      expect(await stored('bulk', j.opts.jobId)).toEqual(await stored('plain', j.opts.jobId));
      expect(await stored('bulk', j.opts.jobId)).toMatchObject({ name: 'cooldown-expired', timestamp: 'set', delay: '60000' });
    }
    for (const key of ['delayed', 'events', 'id', 'meta', 'marker']) {
      expect(await redis.client.type(`bull:bulk:${key}`)).toBe(await redis.client.type(`bull:plain:${key}`));
    }
    expect(await redis.client.zcard('bull:bulk:delayed')).toBe(3);
    expect(await redis.client.get('bull:bulk:id')).toBe(await redis.client.get('bull:plain:id'));
    const events = async (q: string) => (await redis.client.xrange(`bull:${q}:events`, '-', '+')).map(([, f]) => f[1]);
    expect(await events('bulk')).toEqual(await events('plain'));
    // BullMQ reads them back as it would its own.
    const read = (await queueOf('bulk').getJob('cooldown-SYM2USDT-2'))!;
    expect(read.data).toEqual(jobs[1]!.data);
    expect(read.opts).toMatchObject({ attempts: scheduledJobOptions.attempts, delay: 60_000, removeOnComplete: { count: 1000 } });
    expect(await read.getState()).toBe('delayed');
  });

  it('leaves a job whose id exists as it is, as Queue.add does, and adds the others', async () => {
    const queue = queueOf('again');
    await queue.add(job(1).name, { first: true }, job(1).opts);
    expect(await addDelayedJobs(queue, [job(1), job(2)])).toBe(true);
    expect((await queue.getJob('cooldown-SYM1USDT-1'))!.data).toEqual({ first: true });
    expect((await queue.getJob('cooldown-SYM2USDT-2'))!.data).toEqual(job(2).data);
  });

  it('jobs a commit schedules (BullJobSink) are run by a real BullMQ worker once due, each once', async () => {
    const sink = new BullJobSink(connection(), 'bull');
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
