import type { ConnectionOptions, JobsOptions, Queue } from 'bullmq';
import { retryPolicy } from '../engine/retry-policy.js';
import type { ScheduledJob } from '../engine/effects.js';
import type { JobSink } from '../engine/settle.js';

/**
 * A job that threw has not committed (the process stopped, its commit kept conflicting): BullMQ
 * tries it again rather than drop, say, a cooldown_expired for good. Completed jobs are kept so
 * adding one again under the same jobId stays a no-op.
 */
export const scheduledJobOptions = {
  attempts: retryPolicy.jobAttempts,
  backoff: { type: 'exponential', delay: retryPolicy.jobFirstPauseMs },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 1000 },
} as const satisfies JobsOptions;

/**
 * The process's BullMQ queues, each opened on first use, with BullMQ (5-6 MiB of heap) loaded
 * only before a gate with a schedule or queue trigger starts, or else on the first commit that
 * scheduled a job. Until then no queue is open, and /metrics and the dashboard show none.
 */
export class JobQueues implements JobSink {
  private readonly queues = new Map<string, Queue>();
  private QueueClass: typeof Queue | undefined;
  private loading: Promise<JobQueues> | undefined;

  constructor(
    private readonly connection: ConnectionOptions,
    private readonly prefix: string,
    /** Without a listener BullMQ prints each connection error on stderr. */
    private readonly onError: (queue: string, error: Error) => void = () => undefined,
  ) {}

  /** Loads BullMQ once, via job-runner.ts: in the bundle bullmq is CommonJS, and its own dynamic import answers only a default export. */
  load(): Promise<JobQueues> {
    this.loading ??= import('./job-runner.js').then(({ Queue }) => {
      this.QueueClass = Queue;
      return this;
    });
    return this.loading;
  }

  get loaded(): boolean {
    return this.QueueClass !== undefined;
  }

  /** Adds a commit's jobs, each queue's in one addBulk (a job id already present is left as it is). */
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

  /** Opens (or returns) a Queue; BullMQ must have been loaded. */
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

  allQueues(): Queue[] {
    return [...this.queues.values()];
  }

  /** After a load still under way (a last commit's jobs) has finished. */
  async close(): Promise<void> {
    await this.loading;
    await Promise.all(this.allQueues().map((q) => q.close()));
  }
}
