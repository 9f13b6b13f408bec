import { MetricsTime, Queue, Worker, type ConnectionOptions, type Job, type JobsOptions } from 'bullmq';
import { retryPolicy } from '../engine/retry-policy.js';
import { Delivery } from '../engine/delivery.js';
import type { JobSummary, ScheduledJob } from '../engine/effects.js';
import { describeError } from '../engine/execute.js';
import { jobDoneKey } from '../engine/idempotency.js';
import type { QueueTrigger, ScheduleTrigger } from '../contract/handler.js';
import type { RootLogger } from '../engine/logger.js';
import { JobBatcher } from './job-batch.js';
import { addDelayedJobs, type DelayedJob } from './delayed-jobs.js';
import { isReady, waitUntilReady, type RedisClient } from '../host/redis.js';
import type { JobSink } from '../engine/settle.js';
import { buildPipeline, type SourceDeps, type SourcePipeline } from './pipeline.js';
import type { ConsumerFault } from './stream-consumer.js';

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

export interface JobRunnerDeps extends SourceDeps {
  readonly bullConnection: RedisClient;
  readonly jobs: BullJobSink;
  readonly logger: RootLogger;
}

/**
 * Runs a handler on BullMQ jobs: a job scheduler's ticks (one job per tick, so one replica
 * computes it) or jobs other handlers scheduled. The same pipeline and commit loop as a stream
 * consumer; a job is complete only after its commit. The scheduler is asserted again whenever
 * it has disappeared (a Redis restart without persistence, FLUSHALL, a removal in the dashboard).
 */
export class JobRunner {
  private worker: Worker | undefined;
  private stopping = false;
  private readonly abort = new AbortController();
  private readonly log: RootLogger;
  readonly queueName: string;
  private readonly trigger: ScheduleTrigger<unknown> | QueueTrigger;
  private readonly pipeline: SourcePipeline;
  private readonly batcher: JobBatcher;
  private schedulerTimer: NodeJS.Timeout | undefined;
  private schedulerFault: string | undefined;
  private commitFailing: string | undefined;
  private lastProgressAt: number;

  constructor(private readonly deps: JobRunnerDeps) {
    this.trigger = deps.handler.trigger as ScheduleTrigger<unknown> | QueueTrigger;
    this.queueName = this.trigger.queue;
    this.lastProgressAt = deps.now();
    this.log = deps.logger.child({ handler: deps.handler.name, queue: this.trigger.queue });
    this.pipeline = buildPipeline(deps, {
      log: this.log,
      logFields: (meta) => ({ job: meta.id }),
      sourceStream: `bullmq:${this.queueName}`,
      group: '',
      maxDeliveries: Number.POSITIVE_INFINITY, // BullMQ counts a job's attempts itself
      waitForRedis: () => waitUntilReady(deps.commands, this.abort.signal),
      stopping: () => this.stopping,
      abort: this.abort.signal,
      // Every job's commit records it as done, and a job found done is not run again.
      doneKey: (meta) => jobDoneKey(this.queueName, meta.id),
      commit: {
        source: undefined,
        onProgress: () => {
          this.lastProgressAt = deps.now();
          this.commitFailing = undefined;
        },
        onFailure: (failure) => {
          this.commitFailing ??= `commits refused (${failure.cause}): ${failure.message}`;
        },
      },
    });
    this.batcher = new JobBatcher({
      prepare: (deliveries) => this.pipeline.prepare(deliveries, deps.now()),
      commit: (batch) => this.pipeline.commit(batch),
      maxBatch: this.concurrency,
    });
  }

  /** How many jobs BullMQ hands this runner at once: a queue's JOB_CONCURRENCY, a schedule's ticks one by one. */
  get concurrency(): number {
    return this.trigger.kind === 'queue' ? this.deps.config.JOB_CONCURRENCY : 1;
  }

  get isConsuming(): boolean {
    // BullMQ keeps its worker "running" through an outage; it consumes only with its connection up.
    return this.worker?.isRunning() === true && isReady(this.deps.bullConnection) && !this.stopping;
  }

  /** Why this runner cannot make progress: its worker stopped, its connection is down, its scheduler could not be asserted. */
  fault(heartbeatTimeoutMs: number): ConsumerFault | undefined {
    if (this.stopping) return undefined;
    if (!isReady(this.deps.bullConnection))
      return { cause: `bullmq connection ${this.deps.bullConnection.status}`, since: this.lastProgressAt };
    if (this.worker?.isRunning() !== true) return { cause: 'bullmq worker not running', since: this.lastProgressAt };
    if (this.schedulerFault) return { cause: this.schedulerFault, since: this.lastProgressAt };
    if (this.commitFailing) return { cause: this.commitFailing, since: this.lastProgressAt };
    if (this.trigger.kind === 'schedule') {
      // A scheduled handler must tick: several intervals without a committed tick is a stall.
      const everyMs = this.trigger.everyMs(this.deps.handlerConfig);
      const silent = this.deps.now() - this.lastProgressAt;
      if (silent > Math.max(heartbeatTimeoutMs, 3 * everyMs))
        return { cause: `no tick committed for ${Math.round(silent / 1000)} s`, since: this.lastProgressAt };
    }
    return undefined;
  }

  async start(): Promise<void> {
    const { config } = this.deps;
    // Opened here even for a queue other handlers fill, so /metrics counts its jobs (queue-metrics.ts).
    this.deps.jobs.queue(this.trigger.queue);
    await this.assertScheduler(false);
    this.worker = new Worker(this.trigger.queue, (job) => this.process(job), {
      connection: this.deps.bullConnection,
      prefix: config.BULLMQ_PREFIX,
      concurrency: this.concurrency,
      // Completed and failed counts per minute for a day: the board's graphs and the totals
      // Queue.exportPrometheusMetrics() reports.
      metrics: { maxDataPoints: MetricsTime.ONE_HOUR * 24 },
    });
    this.worker.on('error', (error) => this.log.warn({ err: describeError(error) }, 'worker error'));
    // Until its connections are up, closing the worker rejects inside BullMQ; a stop right after
    // start must find it ready.
    await this.worker.waitUntilReady();
    const up = () => this.deps.metrics.consumerUp.set({ handler: this.deps.handler.name }, this.isConsuming ? 1 : 0);
    up();
    this.worker.on('ready', up);
    this.worker.on('error', up);
    this.worker.on('closed', up);
    // The gauge follows the connection itself: BullMQ says nothing when it comes back.
    for (const event of ['ready', 'close', 'end', 'reconnecting'] as const) this.deps.bullConnection.on(event, up);
    this.lastProgressAt = this.deps.now();
    if (this.trigger.kind === 'schedule') {
      this.schedulerTimer = setInterval(() => void this.assertScheduler(true), config.CLAIM_INTERVAL_MS);
      this.schedulerTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    clearInterval(this.schedulerTimer);
    await this.worker?.close();
    this.deps.metrics.consumerUp.set({ handler: this.deps.handler.name }, 0);
  }

  private get schedulerId(): string {
    return `${this.deps.handler.name}:tick`;
  }

  /** Registers the tick scheduler; when `onlyIfMissing`, only where it has disappeared (counted and logged). */
  private async assertScheduler(onlyIfMissing: boolean): Promise<void> {
    if (this.trigger.kind !== 'schedule' || this.stopping) return;
    const queue = this.deps.jobs.queue(this.trigger.queue);
    try {
      // Listed, not looked up: getJobScheduler parses an id with ':' as a legacy repeat key and
      // answers even for a scheduler that is gone.
      if (onlyIfMissing && (await queue.getJobSchedulers()).some((s) => s.key === this.schedulerId)) {
        this.schedulerFault = undefined;
        return;
      }
      const everyMs = this.trigger.everyMs(this.deps.handlerConfig);
      await queue.upsertJobScheduler(
        this.schedulerId,
        { every: everyMs },
        { name: 'tick', data: {}, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 500 } } },
      );
      this.schedulerFault = undefined;
      if (onlyIfMissing) {
        this.deps.metrics.recreated.inc({ handler: this.deps.handler.name, what: 'job_scheduler' });
        this.log.warn({ everyMs }, 'job scheduler was gone; registered it again');
      } else {
        this.log.info({ everyMs }, 'job scheduler registered');
      }
    } catch (error) {
      if (!onlyIfMissing) throw error;
      this.schedulerFault = `job scheduler cannot be checked: ${describeError(error)}`;
    }
  }

  /** Handles and commits one job; its return value (job.returnvalue, shown on the board) says what it did. */
  private async process(job: Job): Promise<JobSummary> {
    const data = { ...(job.data as Record<string, unknown>), scheduled_at: job.timestamp, job_id: job.id };
    const raw = stringifyValues({
      ...(job.data as Record<string, unknown>),
      job_id: job.id ?? '',
      job_name: job.name,
      scheduled_at: job.timestamp,
    });
    const meta = { id: job.id ?? job.name, raw, producedAt: job.timestamp };
    // Committed with the other jobs in hand (job-batch.ts); a job whose outputs did not commit throws.
    const result = await this.batcher.run(new Delivery(meta, data, 1, undefined));
    if ('error' in result) throw result.error;
    this.lastProgressAt = this.deps.now();
    return jobSummary(result.delivery);
  }
}

/** The committed outcome, and what the handler summarized with ctx.summarize (read after any re-run). */
export function jobSummary(delivery: Delivery): JobSummary {
  const outcome: JobSummary =
    delivery.outcome.kind === 'dead-letter'
      ? { outcome: 'dead-letter', reason: delivery.outcome.reason }
      : { outcome: delivery.outcome.kind };
  return { ...outcome, ...delivery.recorder?.summary, ...outcome }; // listed first, and the runtime's word wins
}

function stringifyValues(data: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(data)) out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  return out;
}
