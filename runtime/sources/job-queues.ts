import type { ConnectionOptions, JobsOptions, Queue } from 'bullmq';
import { retryPolicy } from '../engine/retry-policy.js';
import type { ScheduledJob } from '../engine/effects.js';
import type { JobSink } from '../engine/settle.js';

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

/**
 * The process's BullMQ queues by name, each opened on first use, with BullMQ itself loaded only
 * on first need: with its Lua scripts and msgpackr it is some 5-6 MiB of heap and its module
 * start-up, of no use to a process whose gates have no schedule or queue trigger and commit no
 * ctx.schedule job (docs/performance.md, "Memory").
 *
 * It loads before a gate with a schedule or queue trigger starts (hostGates awaits load()), or
 * else on the first commit that scheduled a job (add). Until then no queue is open, so
 * allQueues() is empty and /metrics and the dashboard show no queue; queue(name) says BullMQ is
 * not loaded.
 */
export class JobQueues implements JobSink {
  private readonly queues = new Map<string, Queue>();
  private QueueClass: typeof Queue | undefined;
  private loading: Promise<JobQueues> | undefined;

  constructor(
    private readonly connection: ConnectionOptions,
    private readonly prefix: string,
    /** Where a queue's connection errors go; without a listener BullMQ prints each on stderr. */
    private readonly onError: (queue: string, error: Error) => void = () => undefined,
  ) {}

  /**
   * Loads BullMQ once, with the job runner: Queue is re-exported by name there, because in the
   * bundle bullmq is CommonJS, and a dynamic import of 'bullmq' itself answers only a default export.
   */
  load(): Promise<JobQueues> {
    this.loading ??= import('./job-runner.js').then(({ Queue }) => {
      this.QueueClass = Queue;
      return this;
    });
    return this.loading;
  }

  /** Whether BullMQ has been loaded in this process (a gate needs it, or a job was scheduled). */
  get loaded(): boolean {
    return this.QueueClass !== undefined;
  }

  /**
   * Adds a commit's jobs, each queue's in one Queue.addBulk (a job id already present is left as
   * it is). Called only for a commit that scheduled some; once loaded, no further await is added.
   */
  async add(jobs: readonly ScheduledJob[]): Promise<void> {
    if (this.QueueClass === undefined) await this.load();
    const byQueue = new Map<string, { name: string; data: unknown; opts: JobsOptions }[]>();
    for (const job of jobs) {
      const bulk = byQueue.get(job.queue) ?? [];
      bulk.push({ name: job.name, data: job.data, opts: { ...scheduledJobOptions, jobId: job.jobId, delay: Math.max(0, job.delayMs) } });
      byQueue.set(job.queue, bulk);
    }
    await Promise.all([...byQueue].map(([name, bulk]) => this.queue(name).addBulk(bulk)));
  }

  /** Opens (or returns) the Queue for a name; BullMQ must have been loaded (load()). */
  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (queue) return queue;
    if (this.QueueClass === undefined)
      throw new Error(`queue ${JSON.stringify(name)}: BullMQ is not loaded in this process yet (await jobs.load() first)`);
    queue = new this.QueueClass(name, { connection: this.connection, prefix: this.prefix });
    queue.on('error', (error) => this.onError(name, error));
    this.queues.set(name, queue);
    return queue;
  }

  /** Every queue opened so far: none before BullMQ is loaded. */
  allQueues(): Queue[] {
    return [...this.queues.values()];
  }

  /** Closes every open queue, after a load still under way (a last commit's jobs) has finished. */
  async close(): Promise<void> {
    await this.loading;
    await Promise.all(this.allQueues().map((q) => q.close()));
  }
}
