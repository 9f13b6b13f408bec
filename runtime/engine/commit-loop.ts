import type { CommitReport, CommitSource, Committer } from './commit.js';
import type { RootLogger } from './logger.js';
import { rerun, type PipelineEnv, type PreparedBatch, type PreparedItem } from './message-pipeline.js';
import type { RuntimeMetrics } from './metrics.js';
import { classifyRedisError, type ClassifiedError } from './redis-errors.js';
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { RuntimeConfig } from '../host/config.js';
import { Settler, type JobSink } from './settle.js';

/** Rounds of re-running messages whose guards lost a race before leaving them for redelivery. */
export const MAX_CONFLICT_ROUNDS = 100;

/** Pause before re-running messages that wait for an earlier entry of their stream (orderBy). */
const WAIT_FOR_EARLIER_MS = 20;

/** First pause after a refused commit; it doubles per failure up to COMMIT_BACKOFF_MAX_MS. */
const FIRST_BACKOFF_MS = 50;

/** The consumer group disappeared under a commit: the batch is no longer ours to finish. */
export class GroupLostError extends Error {
  constructor(readonly failure: ClassifiedError) {
    super(`consumer group lost: ${failure.message}`);
    this.name = 'GroupLostError';
  }
}

export interface CommitLoopEnv {
  readonly handlerName: string;
  readonly committer: Committer;
  /** The stream entries the commit acknowledges; undefined for jobs. */
  readonly source: CommitSource | undefined;
  readonly metrics: RuntimeMetrics;
  readonly log: RootLogger;
  readonly settle: Settler;
  readonly pipeline: PipelineEnv;
  readonly now: () => number;
  readonly claimIdleMs: number;
  readonly backoffMaxMs: number;
  /** Which of these entries this consumer still holds (its pending list); stream sources only. */
  readonly pendingIds?: (ids: readonly string[]) => Promise<Set<string>>;
  /** Resolves once the connections a commit needs are ready (or the runtime stops). */
  readonly waitForRedis: () => Promise<void>;
  readonly sleep: (ms: number) => Promise<void>;
  readonly stopping: () => boolean;
  /** Told of every refusal and every success, so /ready can say Redis refuses writes. */
  readonly health: { noteWriteRefused(detail: string): void; noteWriteAccepted(): void };
  /** Called after each commit that applied, for the consumer's heartbeat. */
  readonly onProgress: () => void;
  /** Called for each refused commit, so /ready can name the cause until the next commit applies. */
  readonly onFailure: (failure: ClassifiedError) => void;
}

/** What every consumer of the runtime (stream or BullMQ) gives its commit loop in the same way. */
export interface CommitLoopShared {
  readonly handlerName: string;
  readonly committer: Committer;
  readonly metrics: RuntimeMetrics;
  readonly log: RootLogger;
  readonly jobs: JobSink;
  readonly pipeline: PipelineEnv;
  readonly now: () => number;
  readonly config: Pick<RuntimeConfig, 'CLAIM_IDLE_MS' | 'COMMIT_BACKOFF_MAX_MS'>;
  /** Aborted when the consumer stops: cuts a backoff pause short. */
  readonly abort: AbortSignal;
  readonly stopping: () => boolean;
  readonly health: CommitLoopEnv['health'];
}

/** A commit loop's environment: the shared parts, and what is the consumer's own. */
export function commitLoopEnv(
  shared: CommitLoopShared,
  own: Pick<CommitLoopEnv, 'source' | 'pendingIds' | 'waitForRedis' | 'onProgress' | 'onFailure'>,
): CommitLoopEnv {
  const { handlerName, metrics, log, jobs, abort } = shared;
  return {
    handlerName,
    committer: shared.committer,
    metrics,
    log,
    settle: new Settler({ handlerName, metrics, jobs, log }),
    pipeline: shared.pipeline,
    now: shared.now,
    claimIdleMs: shared.config.CLAIM_IDLE_MS,
    backoffMaxMs: shared.config.COMMIT_BACKOFF_MAX_MS,
    sleep: (ms) => sleepFor(ms, undefined, { signal: abort }).catch(() => undefined),
    stopping: shared.stopping,
    health: shared.health,
    ...own,
  };
}

/**
 * Commits a prepared batch, whatever Redis does meanwhile. Messages whose guards lost a race run
 * again on fresh data; a commit whose connection dropped is resolved from the pending list (an
 * applied commit acknowledged its entries); a commit Redis refused (OOM, READONLY, a key of the
 * wrong type, a timeout) is tried again after a pause that grows to a cap, and its messages stay
 * pending meanwhile. A message is acknowledged only together with its outcome. Answers false when
 * some message was left uncommitted (still conflicting, or the runtime stopped meanwhile).
 */
export async function commitBatch(env: CommitLoopEnv, batch: PreparedBatch): Promise<boolean> {
  const { metrics, handlerName } = env;
  let slots = batch.items.map((_, i) => i);
  let complete = true;
  for (let round = 0; ; round++) {
    const conflicted = await commitSlots(env, batch, slots);
    if (conflicted === ABANDONED) {
      complete = false;
      break;
    }
    if (conflicted.length === 0) break;
    metrics.conflicts.inc({ handler: handlerName }, conflicted.length);
    const validIndexes = conflicted.map((slot) => batch.validSlots.indexOf(slot)).filter((i) => i >= 0);
    if (validIndexes.length === 0) break;
    if (round >= MAX_CONFLICT_ROUNDS) {
      env.log.error({ count: validIndexes.length }, 'messages still conflicting; leaving them pending for redelivery');
      complete = false;
      break;
    }
    await rerun(env.pipeline, batch, validIndexes);
    slots = validIndexes.map((i) => batch.validSlots[i]!);
  }
  metrics.batchSeconds.observe({ handler: handlerName }, (performance.now() - batch.started) / 1000);
  return complete;
}

/** The runtime stopped while a commit was being retried: its messages stay pending. */
const ABANDONED = 'abandoned';

/** Commits the given slots until each is applied, lost to another consumer, or conflicted (returned). */
async function commitSlots(env: CommitLoopEnv, batch: PreparedBatch, slots: readonly number[]): Promise<number[] | typeof ABANDONED> {
  const { items } = batch;
  let todo = slots.filter((slot) => items[slot]!.outcome.kind !== 'left-pending');
  todo = await dropReclaimed(env, batch, todo);
  let failures = 0;
  for (;;) {
    if (todo.length === 0) return [];
    let report: CommitReport;
    try {
      report = await env.committer.commit(
        env.source,
        todo.map((slot) => items[slot]!),
      );
    } catch (error) {
      const cause = classifyRedisError(error);
      if (cause.cause === 'nogroup') throw new GroupLostError(cause);
      countFailure(env, cause, todo.length);
      if (cause.refusesWrites) env.health.noteWriteRefused(cause.message);
      if (env.stopping()) return ABANDONED;
      await backoff(env, ++failures);
      await env.waitForRedis();
      todo = await withoutLanded(env, batch, todo);
      continue;
    }
    env.health.noteWriteAccepted();
    // Counted whatever became of the items: a trim that ran removed its entries for good.
    env.settle.trimmed(report.trimmed ?? 0);
    const at = (k: number) => todo[k]!;
    if (report.lost.length > 0) {
      env.metrics.commitFailures.inc({ handler: env.handlerName, cause: 'lost_ownership' }, report.lost.length);
      env.log.warn(
        { count: report.lost.length },
        'entries were reclaimed by another consumer while held; their outputs were not written, leaving them to it',
      );
    }
    env.settle.superseded(report.superseded.map((k) => items[at(k)]!));
    const committed = report.committed.map((k) => items[at(k)]!);
    if (committed.length > 0 || report.superseded.length > 0) env.onProgress();
    await env.settle.committed(committed);
    const conflicted = [...report.conflicted, ...report.waiting].map(at).sort((a, b) => a - b);
    // Waiting for an earlier entry another replica holds: give it a moment to commit first.
    if (report.waiting.length > 0) await env.sleep(WAIT_FOR_EARLIER_MS);
    if (report.withheld.length === 0) return conflicted;

    // Writes Redis refused: those messages stay pending, and are committed again after a pause.
    const refusal = classifyRedisError(report.effectFailures[0]?.error ?? new Error('a write was refused'));
    countFailure(env, refusal, report.withheld.length);
    if (refusal.refusesWrites) env.health.noteWriteRefused(refusal.message);
    env.settle.writeFailures(
      report.effectFailures.map((f) => ({ ...f, item: f.item >= 0 && f.item < todo.length ? at(f.item) : -1 })),
      items,
    );
    if (conflicted.length > 0) {
      // Re-run the conflicted ones first; the withheld ones are tried again with them.
      return [...conflicted, ...report.withheld.map(at)].sort((a, b) => a - b);
    }
    if (env.stopping()) return ABANDONED;
    await backoff(env, ++failures);
    todo = report.withheld.map(at);
  }
}

/**
 * Another consumer may reclaim entries idle past CLAIM_IDLE_MS. A batch held that long (an
 * outage, a stall) is committed only for the entries still ours; a fresh batch cannot have been
 * claimed, so the fast path pays nothing. On one node the commit checks again, atomically with
 * its writes; this check is what a cluster commit relies on.
 */
async function dropReclaimed(env: CommitLoopEnv, batch: PreparedBatch, todo: number[]): Promise<number[]> {
  if (!env.pendingIds || env.now() - batch.readAt <= env.claimIdleMs / 2) return todo;
  const owned = await env.pendingIds(entryIds(batch.items, todo));
  const lost = todo.filter((slot) => !owned.has(batch.items[slot]!.entryId!));
  if (lost.length > 0) {
    env.metrics.commitFailures.inc({ handler: env.handlerName, cause: 'lost_ownership' }, lost.length);
    env.log.warn({ count: lost.length }, 'entries were reclaimed by another consumer while held; leaving them to it');
  }
  return todo.filter((slot) => owned.has(batch.items[slot]!.entryId!));
}

/**
 * After a commit whose outcome is unknown (its connection dropped, or no answer in time): entries
 * no longer pending for this consumer were committed (the transaction acknowledged them) or
 * claimed by another consumer, which finishes them; either way not ours to redo. Jobs have no
 * entry: their commit is tried again, which their handlers make harmless (guards, newest-wins).
 */
async function withoutLanded(env: CommitLoopEnv, batch: PreparedBatch, todo: number[]): Promise<number[]> {
  if (!env.pendingIds) return todo;
  const stillPending = await env.pendingIds(entryIds(batch.items, todo));
  const landed = todo.filter((slot) => !stillPending.has(batch.items[slot]!.entryId!));
  if (landed.length > 0) {
    env.onProgress();
    await env.settle.committed(landed.map((slot) => batch.items[slot]!));
  }
  return todo.filter((slot) => stillPending.has(batch.items[slot]!.entryId!));
}

function entryIds(items: readonly PreparedItem[], slots: readonly number[]): string[] {
  return slots.map((slot) => items[slot]!.entryId).filter((id): id is string => id !== undefined);
}

function countFailure(env: CommitLoopEnv, cause: ClassifiedError, messages: number): void {
  env.onFailure(cause);
  env.metrics.commitFailures.inc({ handler: env.handlerName, cause: cause.cause });
  env.log.warn({ cause: cause.cause, err: cause.message, messages }, 'commit failed; its messages stay pending and it is tried again');
}

async function backoff(env: CommitLoopEnv, failures: number): Promise<void> {
  await env.sleep(Math.min(env.backoffMaxMs, FIRST_BACKOFF_MS * 2 ** Math.min(failures - 1, 20)));
}
