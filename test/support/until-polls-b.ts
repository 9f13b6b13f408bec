import { QueueEvents, type Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ManualClock } from './clock.js';

interface SleepWaiter {
  readonly ms: number;
  readonly resolve: () => void;
}

/**
 * A ManualClock that tells the test when the runtime begins a wait on it: the test awaits the
 * backoff it expects to see, woken by the runtime's own call, not by a timer asking again.
 */
export class WatchedClock extends ManualClock {
  private readonly waiters = new Set<SleepWaiter>();

  constructor(start?: number) {
    super(start);
    const sleep = this.sleep;
    // ManualClock's sleep is an arrow of each instance, read by the runtime as clock.sleep: the
    // same wait, which also wakes the tests waiting for it.
    const watched: ManualClock['sleep'] = (ms, signal) => {
      const waiting = sleep(ms, signal);
      for (const waiter of this.waiters) {
        if (waiter.ms !== ms) continue;
        this.waiters.delete(waiter);
        waiter.resolve();
      }
      return waiting;
    };
    Object.defineProperty(this, 'sleep', { value: watched });
  }

  /**
   * Resolves once a wait of `ms` is under way on this clock (at once if one is already);
   * `timeoutMs` only bounds a wait that never begins.
   */
  untilSleep(ms: number, { timeoutMs = 15_000 } = {}): Promise<void> {
    if (this.sleeps.includes(ms)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a wait of ${ms} ms on the clock (waits: ${this.sleeps.join(', ')})`));
      }, timeoutMs);
      const waiter: SleepWaiter = {
        ms,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.add(waiter);
    });
  }
}

/**
 * Resolves once each of `jobIds` in `queue` has finished (completed, or failed past its last
 * attempt), woken by BullMQ's own completed/failed events (QueueEvents, a blocking read of the
 * queue's event stream), at once for a job finished already; each job's return value, in order.
 * A job that failed past its last attempt rejects the wait with its reason.
 */
export async function untilJobsFinished(queue: Queue, jobIds: readonly string[], { timeoutMs = 15_000 } = {}): Promise<unknown[]> {
  const connection = new Redis({ ...(await queue.getBackend().client).options, maxRetriesPerRequest: null, lazyConnect: false });
  // From the stream's start, not '$': a job that finished between waitUntilFinished's state check and
  // the first blocking read would otherwise be heard by nobody (CI 2026-11-26 11:10, job-runner's
  // 'cd-after': "no finish notification arrived after 15000ms" for a job finished at once).
  const events = new QueueEvents(queue.name, { connection, prefix: queue.opts.prefix, lastEventId: '0-0' });
  try {
    await events.waitUntilReady();
    return await Promise.all(
      jobIds.map(async (jobId) => {
        const job = await queue.getJob(jobId);
        if (!job) throw new Error(`no job ${jobId} in queue ${queue.name}`);
        return job.waitUntilFinished(events, timeoutMs);
      }),
    );
  } finally {
    await events.close();
    connection.disconnect();
  }
}
