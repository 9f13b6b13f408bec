import { DelayedError, MetricsTime, Worker, type Job, type Queue } from 'bullmq';
import { Delivery } from '../engine/delivery.js';
import type { JobSummary } from '../engine/effects.js';
import { describeError } from '../engine/execute.js';
import { jobDoneKey } from '../engine/idempotency.js';
import { nextStepData, stepOf } from '../engine/job-chain.js';
import type { QueueTrigger, ScheduleTrigger } from '../contract/handler.js';
import type { JobSink } from '../engine/settle.js';
import { isReady, waitUntilReady, type RedisClient } from '../engine/connection.js';
import { SourcePipeline, type ConsumerFault, type SourceDeps } from './pipeline.js';

export { Queue } from 'bullmq';

export interface JobRunnerDeps extends SourceDeps {
  readonly bullConnection: RedisClient;
  /** Loaded. */
  readonly jobs: JobSink & { queue(name: string): Queue };
}

/**
 * Runs a handler on a job scheduler's ticks (one job per tick, so one replica computes it) or on
 * jobs other handlers scheduled; a job is complete only after its commit.
 */
export class JobRunner {
  private worker: Worker | undefined;
  readonly trigger: ScheduleTrigger<unknown> | QueueTrigger;
  private readonly concurrency: number;
  private readonly pipeline: SourcePipeline;
  private readonly runBatched: (delivery: Delivery) => Promise<JobBatchResult>;
  private stopSchedulerTimer = (): void => undefined;
  private schedulerFault: string | undefined;
  private readonly inHand = new Set<Promise<JobBatchResult>>();

  constructor(private readonly deps: JobRunnerDeps) {
    this.trigger = deps.handler.trigger as ScheduleTrigger<unknown> | QueueTrigger;
    this.concurrency = this.trigger.kind === 'queue' ? deps.config.JOB_CONCURRENCY : 1;
    this.pipeline = new SourcePipeline(deps, {
      bindings: { queue: this.trigger.queue },
      logFields: (meta) => ({ job: meta.id }),
      sourceStream: `bullmq:${this.trigger.queue}`,
      group: '',
      maxDeliveries: Number.POSITIVE_INFINITY, // BullMQ counts a job's attempts itself
      waitForRedis: () => waitUntilReady(deps.commands, this.pipeline.abort.signal),
      doneKey: (meta) => jobDoneKey(this.trigger.queue, meta.id),
      commit: { source: undefined },
    });
    this.runBatched = jobBatcher({
      run: (deliveries) => this.pipeline.run(deliveries, deps.clock.now()),
      maxBatch: this.concurrency,
    });
  }

  get isConsuming(): boolean {
    // BullMQ keeps its worker "running" through an outage; it consumes only with its connection up.
    return this.worker?.isRunning() === true && isReady(this.deps.bullConnection) && !this.pipeline.stopping;
  }

  fault(heartbeatTimeoutMs: number): ConsumerFault | undefined {
    const { stopping, commitFault, lastProgressAt: since } = this.pipeline;
    if (stopping) return undefined;
    if (!isReady(this.deps.bullConnection)) return { cause: `bullmq connection ${this.deps.bullConnection.status}`, since };
    if (this.worker?.isRunning() !== true) return { cause: 'bullmq worker not running', since };
    if (this.schedulerFault) return { cause: this.schedulerFault, since };
    if (commitFault) return { cause: commitFault.cause, since };
    if (this.pipeline.inputFault) return this.pipeline.inputFault;
    if (this.trigger.kind === 'schedule') {
      // Several intervals without a committed tick is a stall.
      const silent = this.deps.clock.now() - since;
      if (silent > Math.max(heartbeatTimeoutMs, 3 * this.trigger.everyMs(this.deps.handlerConfig)))
        return { cause: `no tick committed for ${Math.round(silent / 1000)} s`, since };
    }
    return undefined;
  }

  async start(): Promise<void> {
    const { config } = this.deps;
    // Opened even for a queue other handlers fill, so /metrics counts its jobs.
    this.deps.jobs.queue(this.trigger.queue);
    await this.assertScheduler(false);
    this.worker = new Worker(this.trigger.queue, (job, token) => this.process(job, token), {
      connection: this.deps.bullConnection,
      prefix: config.BULLMQ_PREFIX,
      concurrency: this.concurrency,
      // Completed and failed counts per minute for a day: the board's graphs, /metrics' totals.
      metrics: { maxDataPoints: MetricsTime.ONE_HOUR * 24 },
    });
    this.worker.on('error', (error) => this.pipeline.log.warn({ err: describeError(error) }, 'worker error'));
    // Until its connections are up, closing the worker rejects inside BullMQ.
    await this.worker.waitUntilReady();
    const up = () => this.deps.metrics.consumerUp.set({ handler: this.deps.handler.name }, this.isConsuming ? 1 : 0);
    up();
    for (const event of ['ready', 'error', 'closed'] as const) this.worker.on(event, up);
    // The gauge follows the connection itself: BullMQ says nothing when it comes back.
    for (const event of ['ready', 'close', 'end', 'reconnecting'] as const) this.deps.bullConnection.on(event, up);
    this.pipeline.lastProgressAt = this.deps.clock.now();
    if (this.trigger.kind === 'schedule') {
      this.stopSchedulerTimer = this.deps.clock.every(config.CLAIM_INTERVAL_MS, () => void this.assertScheduler(true));
    }
  }

  async stop(): Promise<void> {
    this.pipeline.abort.abort();
    this.stopSchedulerTimer();
    // BullMQ's close awaits an 'end' its blocking connection never emits while it waits to reconnect (bullmq#4656): past the
    // bound, with the jobs in hand settled, the stop goes on without it. Never sooner: under a live loop a closed connection spins it.
    await Promise.all(this.inHand);
    const waited = new AbortController();
    const bound = this.deps.clock.sleep(this.deps.config.COMMAND_TIMEOUT_MS, waited.signal).then(() => false);
    const closed = await Promise.race([this.worker?.close().then(() => true), bound]);
    waited.abort();
    if (closed === false)
      this.pipeline.log.warn('the BullMQ worker did not close (its blocking connection waits to reconnect); stopping without it');
    this.deps.metrics.consumerUp.set({ handler: this.deps.handler.name }, 0);
  }

  /** Registers the tick scheduler; when `onlyIfMissing`, only where it has disappeared. */
  private async assertScheduler(onlyIfMissing: boolean): Promise<void> {
    if (this.trigger.kind !== 'schedule' || this.pipeline.stopping) return;
    const queue = this.deps.jobs.queue(this.trigger.queue);
    const schedulerId = `${this.deps.handler.name}:tick`;
    try {
      // Listed, not looked up: getJobScheduler parses an id with ':' as a legacy repeat key and answers even for one gone.
      if (onlyIfMissing && (await queue.getJobSchedulers()).some((s) => s.key === schedulerId)) {
        this.schedulerFault = undefined;
        return;
      }
      const everyMs = this.trigger.everyMs(this.deps.handlerConfig);
      await queue.upsertJobScheduler(
        schedulerId,
        { every: everyMs },
        { name: 'tick', data: {}, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 500 } } },
      );
      this.schedulerFault = undefined;
      if (onlyIfMissing) {
        this.deps.metrics.recreated.inc({ handler: this.deps.handler.name, what: 'job_scheduler' });
        this.pipeline.log.warn({ everyMs }, 'job scheduler was gone; registered it again');
      } else {
        this.pipeline.log.info({ everyMs }, 'job scheduler registered');
      }
    } catch (error) {
      if (!onlyIfMissing) throw error;
      this.schedulerFault = `job scheduler cannot be checked: ${describeError(error)}`;
    }
  }

  /** Moves the job (in hand under `token`) back to delayed until `dueAt`: BullMQ's way, a DelayedError once it has moved. */
  private async delay(job: Job, dueAt: number, token: string | undefined): Promise<never> {
    await job.moveToDelayed(dueAt, token);
    throw new DelayedError();
  }

  /**
   * Its return value (shown on the board) says what the job did. A job of several steps (a
   * decision's jobs chained: engine/job-chain.ts) is each step in turn, decided as a job of its own
   * (its data, its id), and moved back to delayed as the next once the step has committed.
   */
  private async process(job: Job, token?: string): Promise<JobSummary> {
    const step = stepOf(job.id ?? job.name, job.data as Record<string, unknown>);
    // Run before its time (stalled while moving on to this step): delayed again, undecided.
    if (step.dueAt !== undefined && step.dueAt > this.deps.clock.now()) return this.delay(job, step.dueAt, token);
    const data = { ...step.data, scheduled_at: job.timestamp, job_id: step.id };
    const fields = { ...step.data, job_id: step.id, job_name: job.name, scheduled_at: job.timestamp };
    const raw = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    const meta = { id: step.id, raw, producedAt: job.timestamp };
    const running = this.runBatched(new Delivery(meta, data, 1, undefined));
    this.inHand.add(running);
    const result = await running.finally(() => this.inHand.delete(running));
    if ('error' in result) throw result.error;
    this.pipeline.lastProgressAt = this.deps.clock.now();
    if (step.next.length > 0) {
      const next = nextStepData(job.timestamp, step.next);
      await job.updateData(next);
      return this.delay(job, job.timestamp + step.next[0]!.delayMs, token);
    }
    // The committed outcome, and ctx.summarize's fields (read after any re-run).
    const { outcome } = result.delivery;
    const summary: JobSummary = { outcome: outcome.kind, ...('reason' in outcome ? { reason: outcome.reason } : {}) };
    return { ...summary, ...result.delivery.recorder?.summary, ...summary }; // listed first, and the runtime's word wins
  }
}

/** A job's delivery, committed, or why it did not commit. */
export type JobBatchResult = { readonly delivery: Delivery } | { readonly error: Error };

export interface JobBatchEnv {
  /** Handles and commits the deliveries (SourcePipeline.run); false when some message was left uncommitted. */
  readonly run: (deliveries: readonly Delivery[]) => Promise<boolean>;
  readonly maxBatch: number;
}

/**
 * `run(delivery)`: the job committed with the others in hand as one batch (a commit a job would cost twice the CPU), one
 * commit at a time (WATCH is per connection). A batch left partly uncommitted fails every job of it: BullMQ runs them
 * again, and those that did commit are found done by their done keys. At upstream's rates (a cooldown a permit, ≤ 0.6/s;
 * a sample step a followed decision's horizon) jobs come one at a time and a batch is one job: it acts in a backlog.
 */
export function jobBatcher(env: JobBatchEnv): (delivery: Delivery) => Promise<JobBatchResult> {
  const waiting: { readonly delivery: Delivery; readonly settle: (result: JobBatchResult) => void }[] = [];
  let running = false;
  const drain = async (): Promise<void> => {
    while (waiting.length > 0) {
      const taken = waiting.splice(0, env.maxBatch);
      const complete = await env
        .run(taken.map((w) => w.delivery))
        .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
      for (const { delivery, settle } of taken) {
        if (complete instanceof Error) settle({ error: complete });
        else if (delivery.outcome.kind === 'left-pending') settle({ error: new Error('shutting down before the job finished') });
        // BullMQ retries or fails a job that throws; a job whose outputs did not commit must not complete.
        else if (!complete) settle({ error: new Error('the job could not be committed; it is left for a retry') });
        else settle({ delivery });
      }
    }
    running = false;
  };
  return (delivery) =>
    new Promise((settle) => {
      waiting.push({ delivery, settle });
      if (running) return;
      running = true;
      // The worker starts the jobs it fetched in one turn of the event loop: the first batch gathers them all.
      setImmediate(() => void drain());
    });
}
