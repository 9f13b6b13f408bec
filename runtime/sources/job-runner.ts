import { MetricsTime, Worker, type Job } from 'bullmq';
import { Delivery } from '../engine/delivery.js';
import type { JobSummary } from '../engine/effects.js';
import { describeError } from '../engine/execute.js';
import { jobDoneKey } from '../engine/idempotency.js';
import type { QueueTrigger, ScheduleTrigger } from '../contract/handler.js';
import type { RootLogger } from '../engine/logger.js';
import { JobBatcher } from './job-batch.js';
import type { JobQueues } from './job-queues.js';
import { isReady, waitUntilReady, type RedisClient } from '../host/redis.js';
import { buildPipeline, type SourceDeps, type SourcePipeline } from './pipeline.js';
import type { ConsumerFault } from './stream-consumer.js';

export interface JobRunnerDeps extends SourceDeps {
  readonly bullConnection: RedisClient;
  readonly jobs: JobQueues;
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
  private readonly schedulerId: string;
  private readonly pipeline: SourcePipeline;
  private readonly batcher: JobBatcher;
  private schedulerTimer: NodeJS.Timeout | undefined;
  private schedulerFault: string | undefined;
  private commitFailing: string | undefined;
  private lastProgressAt: number;

  constructor(private readonly deps: JobRunnerDeps) {
    this.trigger = deps.handler.trigger as ScheduleTrigger<unknown> | QueueTrigger;
    this.queueName = this.trigger.queue;
    this.schedulerId = `${deps.handler.name}:tick`;
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
      const silent = this.deps.now() - this.lastProgressAt;
      if (silent > Math.max(heartbeatTimeoutMs, 3 * this.trigger.everyMs(this.deps.handlerConfig)))
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
    for (const event of ['ready', 'error', 'closed'] as const) this.worker.on(event, up);
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
    const raw: Record<string, string> = {};
    const fields = { ...(job.data as Record<string, unknown>), job_id: job.id ?? '', job_name: job.name, scheduled_at: job.timestamp };
    for (const [key, value] of Object.entries(fields)) raw[key] = typeof value === 'string' ? value : JSON.stringify(value);
    const meta = { id: job.id ?? job.name, raw, producedAt: job.timestamp };
    // Committed with the other jobs in hand (job-batch.ts); a job whose outputs did not commit throws.
    const result = await this.batcher.run(new Delivery(meta, data, 1, undefined));
    if ('error' in result) throw result.error;
    this.lastProgressAt = this.deps.now();
    // The committed outcome, and what the handler summarized with ctx.summarize (read after any re-run).
    const { outcome } = result.delivery;
    const summary: JobSummary =
      outcome.kind === 'dead-letter' ? { outcome: outcome.kind, reason: outcome.reason } : { outcome: outcome.kind };
    return { ...summary, ...result.delivery.recorder?.summary, ...summary }; // listed first, and the runtime's word wins
  }
}
