import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { retryPolicy } from '../engine/retry-policy.js';
import type { ScheduledJob } from '../engine/effects.js';
import type { JobSink } from '../engine/settle.js';
import { addDelayedJobs, type DelayedJob } from './delayed-jobs.js';

// BullMQ's side of scheduling jobs. Only job-runner.ts and job-queues.ts (through a dynamic
// import, on first need) load this module: a process whose gates neither consume a queue nor
// schedule a job never loads BullMQ (docs/performance.md, "Memory").

/**
 * Options of every job a handler schedules (ctx.schedule: cooldown expiry, outcome samples).
 * A job completes only once its outputs committed, and BullMQ never runs a completed job again
 * (only a retry by hand would, which the dashboard refuses). A job that threw has not committed
 * (the process stopped mid-job, its commit kept conflicting): BullMQ tries it again after a
 * pause rather than dropping, say, a cooldown_expired for good. Completed jobs are kept (the
 * newest 1000) so adding one again under the same jobId stays a no-op.
 */
export const scheduledJobOptions = {
  attempts: retryPolicy.jobAttempts,
  backoff: { type: 'exponential', delay: retryPolicy.jobFirstPauseMs },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 1000 },
} as const satisfies JobsOptions;

/** Queues by name, created on first use; adds are idempotent through each job's jobId. */
export class BullJobSink implements JobSink {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: ConnectionOptions,
    private readonly prefix: string,
    /** Where a queue's connection errors go; without a listener BullMQ prints each on stderr. */
    private readonly onError: (queue: string, error: Error) => void = () => undefined,
  ) {}

  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      queue.on('error', (error) => this.onError(name, error));
      this.queues.set(name, queue);
    }
    return queue;
  }

  /**
   * Adds a commit's jobs. A queue's delayed jobs go in one call (addDelayedJobs: stored as
   * Queue.add stores them); a queue's only job, and jobs due at once, one by one through Queue.add.
   */
  async add(jobs: readonly ScheduledJob[]): Promise<void> {
    const delayedByQueue = new Map<string, DelayedJob[]>();
    const single: Promise<unknown>[] = [];
    for (const job of jobs) {
      const delayed: DelayedJob = {
        name: job.name,
        data: job.data,
        opts: { ...scheduledJobOptions, jobId: job.jobId, delay: Math.max(0, job.delayMs) },
      };
      if (delayed.opts.delay === 0) single.push(this.queue(job.queue).add(delayed.name, delayed.data, delayed.opts));
      else {
        const group = delayedByQueue.get(job.queue);
        if (group === undefined) delayedByQueue.set(job.queue, [delayed]);
        else group.push(delayed);
      }
    }
    const bulk = [...delayedByQueue].map(async ([name, group]) => {
      const queue = this.queue(name);
      if (group.length > 1 && (await addDelayedJobs(queue, group))) return;
      await Promise.all(group.map((job) => queue.add(job.name, job.data, job.opts)));
    });
    await Promise.all([...single, ...bulk]);
  }

  allQueues(): Queue[] {
    return [...this.queues.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.allQueues().map((q) => q.close()));
  }
}
