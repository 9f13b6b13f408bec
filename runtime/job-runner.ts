import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Committer } from './commit.js';
import type { RuntimeConfig } from './config.js';
import { deadLetterFields } from './dead-letter.js';
import type { ScheduledJob } from './effects.js';
import { describeError, executeBatch, type ExecutionEnv } from './execute.js';
import type { AnyHandler, QueueTrigger, ScheduleTrigger } from './handler.js';
import { LazyChildLogger, type RootLogger } from './logger.js';
import { applyMetricCalls, type RuntimeMetrics } from './metrics.js';
import { isReady, waitUntilReady, type RedisClient } from './redis.js';
import type { RedisReader } from './redis-reader.js';
import { formatIssues, type JobSink } from './stream-consumer.js';

/** Queues by name, created on first use; adds are idempotent through each job's jobId. */
export class BullJobSink implements JobSink {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: ConnectionOptions,
    private readonly prefix: string,
  ) {}

  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      this.queues.set(name, queue);
    }
    return queue;
  }

  async add(jobs: readonly ScheduledJob[]): Promise<void> {
    await Promise.all(
      jobs.map((job) =>
        this.queue(job.queue).add(job.name, job.data, {
          jobId: job.jobId,
          delay: Math.max(0, job.delayMs),
          removeOnComplete: { count: 1000 },
          removeOnFail: { count: 1000 },
        }),
      ),
    );
  }

  allQueues(): Queue[] {
    return [...this.queues.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.allQueues().map((q) => q.close()));
  }
}

export interface JobRunnerDeps {
  readonly handler: AnyHandler;
  readonly handlerConfig: unknown;
  readonly handlerMetrics: object;
  readonly config: RuntimeConfig;
  readonly commands: RedisClient;
  readonly committer: Committer;
  readonly bullConnection: ConnectionOptions;
  readonly jobs: BullJobSink;
  readonly metrics: RuntimeMetrics;
  readonly logger: RootLogger;
  readonly now: () => number;
}

/**
 * Runs a handler on BullMQ jobs: a job scheduler's ticks (one job per tick, so one replica
 * computes it) or jobs other handlers scheduled. Effects are committed in one transaction; a job
 * is complete only after its commit.
 */
export class JobRunner {
  private worker: Worker | undefined;
  private stopping = false;
  private readonly log: RootLogger;
  readonly queueName: string;

  constructor(private readonly deps: JobRunnerDeps) {
    const trigger = deps.handler.trigger as ScheduleTrigger<unknown> | QueueTrigger;
    this.queueName = trigger.queue;
    this.log = deps.logger.child({ handler: deps.handler.name, queue: trigger.queue });
  }

  get isConsuming(): boolean {
    return this.worker?.isRunning() === true && !this.stopping;
  }

  async start(): Promise<void> {
    const { handler, handlerConfig, config, jobs } = this.deps;
    const trigger = handler.trigger as ScheduleTrigger<unknown> | QueueTrigger;
    if (trigger.kind === 'schedule') {
      const everyMs = trigger.everyMs(handlerConfig);
      await jobs.queue(trigger.queue).upsertJobScheduler(
        `${handler.name}:tick`,
        { every: everyMs },
        { name: 'tick', data: {}, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 500 } } },
      );
      this.log.info({ everyMs }, 'job scheduler registered');
    }
    this.worker = new Worker(trigger.queue, (job) => this.process(job), {
      connection: this.deps.bullConnection,
      prefix: config.BULLMQ_PREFIX,
      concurrency: 1,
    });
    this.worker.on('error', (error) => this.log.warn({ err: describeError(error) }, 'worker error'));
    // Until its connections are up, closing the worker rejects inside BullMQ; a stop right after
    // start must find it ready.
    await this.worker.waitUntilReady();
    const up = (value: number) => this.deps.metrics.consumerUp.set({ handler: handler.name }, value);
    up(1);
    this.worker.on('ready', () => up(1));
    this.worker.on('error', () => up(this.worker?.isRunning() ? 1 : 0));
    this.worker.on('closed', () => up(0));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.worker?.close();
    this.deps.metrics.consumerUp.set({ handler: this.deps.handler.name }, 0);
  }

  private async process(job: Job): Promise<void> {
    const { handler, metrics, committer } = this.deps;
    const raw = stringifyValues({ ...(job.data as Record<string, unknown>), job_id: job.id ?? '', job_name: job.name, scheduled_at: job.timestamp });
    const meta = { source: `bullmq:${this.queueName}`, id: job.id ?? job.name, raw, producedAt: job.timestamp, attempt: 1 };
    const parsed = handler.input.safeParse({ ...(job.data as object), scheduled_at: job.timestamp, job_id: job.id });
    if (!parsed.success) {
      await this.deadLetter(meta, 'invalid_input', formatIssues(parsed.error), 0);
      return;
    }
    const env: ExecutionEnv<unknown, object> = {
      redis: this.deps.commands as unknown as RedisReader,
      config: this.deps.handlerConfig,
      metrics: this.deps.handlerMetrics,
      now: this.deps.now,
      logger: (m) => new LazyChildLogger(this.log, { job: m.id }),
      redisReady: () => isReady(this.deps.commands),
      waitForRedis: () => waitUntilReady(this.deps.commands),
      stopping: () => this.stopping,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      onRetry: (count) => metrics.retries.inc({ handler: handler.name }, count),
    };
    for (let round = 0; round < 100; round++) {
      const [outcome] = await executeBatch(handler, env, [{ meta, message: parsed.data }]);
      if (!outcome || outcome.kind === 'leave-pending') throw new Error('shutting down before the job finished');
      if (outcome.kind === 'dead-letter') {
        await this.deadLetter(meta, outcome.reason, outcome.detail, outcome.attempts);
        return;
      }
      const report = await committer.commit(undefined, [{ recorder: outcome.recorder }]);
      if (report.conflicted.length > 0) continue;
      if (report.superseded.length > 0) {
        // A later write had already been applied (onlyIfNewer): only the skip hook's updates count.
        applyMetricCalls(outcome.recorder.skippedMetricCalls());
        metrics.messages.inc({ handler: handler.name, outcome: 'superseded' });
        return;
      }
      for (const failure of report.effectFailures) {
        (failure.effect as { onFail?: () => void } | undefined)?.onFail?.();
        this.log.error({ err: failure.error.message }, 'an effect failed inside a committed transaction');
      }
      applyMetricCalls(outcome.recorder.metricCalls);
      if (outcome.recorder.jobs.length > 0) await this.deps.jobs.add(outcome.recorder.jobs);
      metrics.messages.inc({ handler: handler.name, outcome: outcome.via });
      return;
    }
    throw new Error('job kept conflicting with concurrent commits');
  }

  private async deadLetter(meta: { id: string; raw: Record<string, string> }, reason: Parameters<typeof deadLetterFields>[0]['reason'], detail: string, attempts: number) {
    const { config, handler, metrics } = this.deps;
    const fields = deadLetterFields({
      handler: handler.name,
      sourceStream: `bullmq:${this.queueName}`,
      sourceId: meta.id,
      group: '',
      reason,
      detail,
      attempts,
      raw: meta.raw,
      at: this.deps.now(),
    });
    await this.deps.committer.commit(undefined, [{ extraEmits: [{ stream: config.DLQ_STREAM, fields, maxLen: config.DLQ_MAXLEN }] }]);
    metrics.messages.inc({ handler: handler.name, outcome: 'dead-letter' });
    metrics.deadLetters.inc({ handler: handler.name, reason });
  }
}

function stringifyValues(data: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(data)) out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  return out;
}
