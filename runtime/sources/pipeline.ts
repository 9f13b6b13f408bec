import { setTimeout as sleep } from 'node:timers/promises';
import type { Committer } from '../engine/commit.js';
import { commitBatch, type CommitLoopEnv } from '../engine/commit-loop.js';
import { deadLetterDestination } from '../engine/dead-letter.js';
import type { Delivery, PreparedBatch } from '../engine/delivery.js';
import type { ExecutionEnv } from '../engine/execute.js';
import type { RootLogger } from '../engine/logger.js';
import { prepareBatch, rerun, type PipelineEnv } from '../engine/message-pipeline.js';
import type { RuntimeMetrics } from '../engine/metrics.js';
import { Settler, type JobSink } from '../engine/settle.js';
import type { AnyHandler, MessageMeta } from '../contract/handler.js';
import type { RedisReader } from '../contract/redis-reader.js';
import type { RuntimeConfig } from '../host/config.js';
import { isReady, type RedisClient } from '../host/redis.js';
import type { RedisHealth } from '../host/redis-health.js';

/** What a source (a stream consumer, a job runner) has that its pipeline needs, the same for both. */
export interface SourceDeps {
  readonly handler: AnyHandler;
  readonly handlerConfig: unknown;
  readonly handlerMetrics: object;
  readonly config: RuntimeConfig;
  /** Shared, auto-pipelined: the handler's reads. */
  readonly commands: RedisClient;
  readonly committer: Committer;
  readonly jobs: JobSink;
  readonly metrics: RuntimeMetrics;
  readonly now: () => number;
  /** Whether Redis stalled, and the news of refused and accepted writes. */
  readonly health: Pick<RedisHealth, 'stalled' | 'noteWriteRefused' | 'noteWriteAccepted'>;
}

/** How one source differs: where its messages come from, and how it waits, stops and reports. */
export interface SourceShape {
  /** Bound to the handler and its stream or queue. */
  readonly log: RootLogger;
  /** What each message's log lines carry besides the source's bindings. */
  readonly logFields: (meta: MessageMeta) => Readonly<Record<string, string | undefined>>;
  /** The dead letter's source_stream and group ('' for jobs). */
  readonly sourceStream: string;
  readonly group: string;
  /** Deliveries after which a stream entry is dead-lettered unhandled; jobs: BullMQ counts attempts itself. */
  readonly maxDeliveries: number;
  /** Resolves once the connections the source needs are ready (or it stops). */
  readonly waitForRedis: () => Promise<void>;
  readonly stopping: () => boolean;
  /** Aborted when the source stops: cuts a backoff pause short. */
  readonly abort: AbortSignal;
  /** Jobs only: where the runtime records the job as done (see IdempotencyDeclaration). */
  readonly doneKey?: (meta: MessageMeta) => string;
  readonly commit: Pick<CommitLoopEnv, 'source' | 'pendingIds' | 'onProgress' | 'onFailure'>;
  /** Where the batch state is read, when not the shared connection (ExecutionEnv.stateRedis). */
  readonly stateRedis?: RedisReader;
}

/** A source's pipeline: validate and handle a batch of deliveries, then commit and settle it. */
export interface SourcePipeline {
  prepare(deliveries: readonly Delivery[], readAt: number): Promise<PreparedBatch>;
  /** False when some delivery was left uncommitted (still conflicting, or the source stopped meanwhile). */
  commit(batch: PreparedBatch): Promise<boolean>;
}

/**
 * Wires the engine for one source: the ctx every message's handler gets, validation and dead
 * letters, and the commit loop, with its re-run of a lost guard. Both sources are built here,
 * so what they share is written once.
 */
export function buildPipeline(deps: SourceDeps, shape: SourceShape): SourcePipeline {
  const { handler, metrics, now } = deps;
  // The client, seen through the narrow, read-only RedisReader a handler is typed against.
  const handlerRedis: RedisReader = deps.commands;
  const shared: ExecutionEnv<unknown, object> = {
    redis: handlerRedis,
    config: deps.handlerConfig,
    metrics: deps.handlerMetrics,
    now,
    logger: (meta) => shape.log.child(shape.logFields(meta)),
    redisReady: () => isReady(deps.commands) && !deps.health.stalled,
    waitForRedis: shape.waitForRedis,
    stopping: shape.stopping,
    sleep: (ms) => sleep(ms).then(() => undefined),
    onRetry: (count) => metrics.retries.inc({ handler: handler.name }, count),
    ...(shape.doneKey ? { doneKey: shape.doneKey } : {}),
  };
  // A re-run of lost guards runs while the source may already wait in its next read, so only a
  // batch's first run reads its state on the source's own connection.
  const execution = shape.stateRedis ? { ...shared, stateRedis: shape.stateRedis } : shared;
  const pipeline: PipelineEnv = {
    handler,
    execution,
    maxDeliveries: shape.maxDeliveries,
    deadLetter: { ...deadLetterDestination(deps.config, handler.name), sourceStream: shape.sourceStream, group: shape.group },
    now,
  };
  const commitEnv: CommitLoopEnv = {
    handlerName: handler.name,
    committer: deps.committer,
    metrics,
    log: shape.log,
    settle: new Settler({ handlerName: handler.name, metrics, jobs: deps.jobs, log: shape.log }),
    rerun: (deliveries) => rerun({ ...pipeline, execution: shared }, deliveries),
    now,
    claimIdleMs: deps.config.CLAIM_IDLE_MS,
    backoffMaxMs: deps.config.COMMIT_BACKOFF_MAX_MS,
    sleep: (ms) => sleep(ms, undefined, { signal: shape.abort }).catch(() => undefined),
    stopping: shape.stopping,
    health: deps.health,
    waitForRedis: shape.waitForRedis,
    ...shape.commit,
  };
  return {
    prepare: (deliveries, readAt) => prepareBatch(pipeline, deliveries, readAt),
    commit: (batch) => commitBatch(commitEnv, batch),
  };
}
