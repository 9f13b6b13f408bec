import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { retryPolicy } from '../engine/retry-policy.js';
import type { ScheduledJob } from '../engine/effects.js';
import type { JobSink } from '../engine/settle.js';

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

  /** Adds a commit's jobs: each queue's in one Queue.addBulk (a job id already present is left as it is). */
  async add(jobs: readonly ScheduledJob[]): Promise<void> {
    const byQueue = new Map<string, { name: string; data: unknown; opts: JobsOptions }[]>();
    for (const job of jobs) {
      const opts = { ...scheduledJobOptions, jobId: job.jobId, delay: Math.max(0, job.delayMs) };
      const group = byQueue.get(job.queue);
      if (group === undefined) byQueue.set(job.queue, [{ name: job.name, data: job.data, opts }]);
      else group.push({ name: job.name, data: job.data, opts });
    }
    await Promise.all([...byQueue].map(([name, group]) => this.queue(name).addBulk(group)));
  }

  allQueues(): Queue[] {
    return [...this.queues.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.allQueues().map((q) => q.close()));
  }
}
