import type { CommitReport, CommitSource, EffectFailure } from './batch-script.js';
import { effectKey } from './effects.js';
import type { Committer } from './commit.js';
import { retryPolicy } from './retry-policy.js';
import type { CommitAnswer, Delivery, PreparedBatch } from './delivery.js';
import type { DeadLetterReason } from './dead-letter.js';
import type { Logger as RootLogger } from 'pino';
import type { RuntimeMetrics } from './metrics.js';
import { classifyRedisError, type ClassifiedError } from './redis-errors.js';
import { REDIS_STATE_CAUSES } from '../contract/redis-refusals.js';
import type { Settler } from './settle.js';

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
  readonly source: CommitSource | undefined;
  readonly metrics: RuntimeMetrics;
  readonly log: RootLogger;
  readonly settle: Settler;
  /** Decides them again; resolves with those left for a later run. */
  readonly rerun: (deliveries: readonly Delivery[]) => Promise<readonly Delivery[]>;
  readonly now: () => number;
  readonly claimIdleMs: number;
  readonly backoffMaxMs: number;
  /** Which of these entries this consumer still holds (its pending list); stream sources only, whose every delivery has one. */
  readonly pendingIds?: (ids: readonly string[]) => Promise<Set<string>>;
  readonly waitForRedis: () => Promise<void>;
  readonly sleep: (ms: number) => Promise<void>;
  /** Aborted by the source's stop: ends a commit's wait for Redis, and its retries. */
  readonly stop: AbortSignal;
  /** So /ready can say Redis refuses writes. */
  readonly health: { noteWriteRefused(detail: string): void; noteWriteAccepted(): void };
  /** After each commit that applied (the consumer's heartbeat). */
  readonly onProgress: () => void;
  /** Each refused commit, so /ready can name the cause until the next commit applies. */
  readonly onFailure: (failure: ClassifiedError) => void;
  /** Keys whose writes Redis refused for a cause of the key's (another type, a script's error), with the refusal: /ready names them until a commit writes the key. */
  readonly refusedKeys: Map<string, string>;
}

/**
 * Commits a prepared batch whatever Redis does meanwhile: lost races run again on fresh data, a
 * lost reply is resolved from the pending list, a refusal is retried after a growing pause. False
 * when some message was left uncommitted (still conflicting, or the runtime stopped).
 */
export async function commitBatch(env: CommitLoopEnv, batch: PreparedBatch): Promise<boolean> {
  let todo = batch.deliveries;
  let later = batch.later;
  let complete = true;
  for (let round = 0; ;) {
    const conflicted = await commitDeliveries(env, batch.readAt, todo);
    if (conflicted === ABANDONED) {
      complete = false;
      break;
    }
    if (conflicted.length > 0) {
      env.metrics.conflicts.inc({ handler: env.handlerName }, conflicted.length);
      round++;
    }
    // Only a message that reached its handler can run again; a dead letter is committed as it is.
    // Those left to be decided once the ones before them committed (execute.ts SharedRun) are decided now.
    const redo = new Set([...later, ...conflicted.filter((delivery) => delivery.valid)]);
    const again = batch.deliveries.filter((delivery) => redo.has(delivery));
    if (again.length === 0) break;
    if (round > retryPolicy.conflictRounds) {
      env.log.error({ count: again.length }, 'messages still conflicting; leaving them pending for redelivery');
      complete = false;
      break;
    }
    later = await env.rerun(again);
    todo = again;
  }
  env.metrics.batchSeconds.observe({ handler: env.handlerName }, (performance.now() - batch.started) / 1000);
  return complete;
}

/** The runtime stopped while a commit was being retried: its messages stay pending. */
const ABANDONED = 'abandoned';

/** Commits the deliveries until each is applied, lost to another consumer, or conflicted (returned, in batch order). */
async function commitDeliveries(
  env: CommitLoopEnv,
  readAt: number,
  deliveries: readonly Delivery[],
): Promise<Delivery[] | typeof ABANDONED> {
  let todo = deliveries.filter((delivery) => delivery.outcome.kind !== 'left-pending');
  todo = await dropReclaimed(env, readAt, todo);
  let failures = 0;
  for (;;) {
    if (todo.length === 0) return [];
    let report: CommitReport<Delivery>;
    try {
      report = await env.committer.commit(env.source, todo, env.stop);
    } catch (error) {
      const cause = classifyRedisError(error);
      if (cause.cause === 'nogroup') throw new GroupLostError(cause);
      countFailure(env, cause, todo.length);
      if (env.stop.aborted) return ABANDONED;
      await backoff(env, ++failures);
      await env.waitForRedis();
      todo = await withoutLanded(env, todo);
      continue;
    }
    env.health.noteWriteAccepted();
    // Counted whatever became of the items: a trim that ran removed its entries for good.
    env.settle.trimmed(report.trimmed ?? 0);
    const answered = (...answers: CommitAnswer[]) => todo.filter((delivery) => answers.includes(delivery.answer!));
    const committed = answered('committed');
    const superseded = answered('superseded');
    const withheld = answered('withheld');
    // A refused key that a committed message wrote (every write of a committed message applied) is fixed.
    for (const effect of committed.flatMap((delivery) => delivery.recorder?.effects ?? [])) env.refusedKeys.delete(effectKey(effect));
    const conflicted = answered('conflicted', 'waiting');
    const waiting = conflicted.some((delivery) => delivery.answer === 'waiting');
    // Lost (or unanswered): left pending, to its new owner.
    const lost = todo.length - committed.length - superseded.length - withheld.length - conflicted.length;
    countLost(env, lost, 'their outputs were not written, leaving them to it');
    env.settle.superseded(superseded);
    if (committed.length > 0 || superseded.length > 0) env.onProgress();
    await env.settle.committed(committed);
    // An earlier entry another replica holds: give it a moment to commit first.
    if (waiting) await env.sleep(retryPolicy.waitForEarlierMs);
    if (withheld.length === 0) return conflicted;

    // Writes Redis refused: those messages stay pending, committed again after a pause.
    countFailure(env, firstRefusal(report.effectFailures), withheld.length);
    env.settle.writeFailures(report.effectFailures);
    holdRefused(env, report.effectFailures);
    if (conflicted.length > 0) {
      // Re-run the conflicted ones first; the withheld ones are tried again with them.
      return answered('withheld', 'conflicted', 'waiting');
    }
    if (env.stop.aborted) return ABANDONED;
    await backoff(env, ++failures);
    todo = withheld;
  }
}

/**
 * A refused write holds its message (pending, uncharged: its decision stands and is written once the
 * write lands), whatever the refusal: a key of another type is Redis's state for the message as
 * much as OOM is. /ready names the key until a commit writes it (refusedKeys). Only a dead letter
 * refused the same way retryPolicy.refusalRepeats times in a row is given up (loseDeadLetter): an
 * input nobody should have written may not hold every message behind it, exits included.
 */
function holdRefused(env: CommitLoopEnv, failures: readonly EffectFailure<Delivery>[]): void {
  for (const { item: delivery, effect, error: refusal } of failures) {
    const { cause, message } = classifyRedisError(refusal);
    if (!delivery || delivery.outcome.kind === 'dead-letter-lost') continue;
    // The commit script's WRONGTYPE names the key; else it is the refused effect's.
    const key = refusedKey(message) ?? (effect && effectKey(effect));
    if (key !== undefined && !REDIS_STATE_CAUSES.includes(cause)) env.refusedKeys.set(key, message);
    if (delivery.outcome.kind !== 'dead-letter') continue;
    const times = delivery.refused?.message === message ? delivery.refused.times + 1 : 1;
    delivery.refused = { message, times };
    if (times < retryPolicy.refusalRepeats) continue;
    delivery.refused = undefined;
    loseDeadLetter(env, delivery, delivery.outcome.reason, message);
  }
}

/** The key a refusal names: the commit script's WRONGTYPE and write check say which. */
function refusedKey(message: string): string | undefined {
  return /^WRONGTYPE (\S+) holds/.exec(message)?.[1] ?? /\(writing (\S+)\)$/.exec(message)?.[1];
}

/** The first refusal of a commit, naming the key it concerns (a plain commit's WRONGTYPE does not). */
function firstRefusal(failures: readonly EffectFailure<Delivery>[]): ClassifiedError {
  const first = failures[0];
  const refusal = classifyRedisError(first?.error ?? new Error('a write was refused'));
  const key = first?.effect && effectKey(first.effect);
  if (key === undefined || refusedKey(refusal.message) !== undefined) return refusal;
  return { ...refusal, message: `${refusal.message} (writing ${key})` };
}

/**
 * A dead letter Redis refused the same way on every try (the dead-letter stream or its index of
 * another type): the whole of it (the entry's fields, the reason, the source id) goes into one
 * error line, and the entry is committed without it, acknowledged, counted in
 * quantum_gates_dead_letters_lost_total once that commit applies; the stream moves on. Waiting
 * for it held every message behind one bad entry, exits included, until a person fixed the key.
 */
function loseDeadLetter(env: CommitLoopEnv, delivery: Delivery, reason: DeadLetterReason, refusal: string): void {
  const letters = (delivery.extraEmits ?? []).map((emit) => ({ stream: emit.stream, ...emit.fields }));
  env.log.error(
    { err: refusal, attempts: retryPolicy.refusalRepeats, entry: delivery.entryId, dead_letters: letters },
    'a dead letter refused on every try: given up, written whole to this line; its entry is acknowledged without it (quantum_gates_dead_letters_lost_total)',
  );
  delivery.extraEmits = undefined;
  delivery.recorder = undefined;
  delivery.outcome = { kind: 'dead-letter-lost', reason };
}

/**
 * A batch held past half of CLAIM_IDLE_MS (an outage, a stall) is committed only for the entries
 * still ours; a fresh one cannot have been claimed. On one node the commit script checks again,
 * atomically; a cluster commit relies on this check alone.
 */
async function dropReclaimed(env: CommitLoopEnv, readAt: number, todo: Delivery[]): Promise<Delivery[]> {
  if (!env.pendingIds || env.now() - readAt <= env.claimIdleMs / 2) return todo;
  const owned = await env.pendingIds(todo.map((delivery) => delivery.entryId!));
  countLost(env, todo.filter((delivery) => !owned.has(delivery.entryId!)).length, 'leaving them to it');
  return todo.filter((delivery) => owned.has(delivery.entryId!));
}

/**
 * After a commit whose outcome is unknown: entries no longer pending were committed or taken by
 * another consumer; either way not ours to redo. Jobs have no entry: their commit is tried again,
 * which guards and newest-wins make harmless (docs/architecture.md, "A lost reply").
 */
async function withoutLanded(env: CommitLoopEnv, todo: Delivery[]): Promise<Delivery[]> {
  if (!env.pendingIds) return todo;
  const stillPending = await env.pendingIds(todo.map((delivery) => delivery.entryId!));
  const landed = todo.filter((delivery) => !stillPending.has(delivery.entryId!));
  if (landed.length > 0) {
    env.onProgress();
    await env.settle.committed(landed);
  }
  return todo.filter((delivery) => stillPending.has(delivery.entryId!));
}

function countLost(env: CommitLoopEnv, count: number, consequence: string): void {
  if (count === 0) return;
  env.metrics.commitFailures.inc({ handler: env.handlerName, cause: 'lost_ownership' }, count);
  env.log.warn({ count }, `entries were reclaimed by another consumer while held; ${consequence}`);
}

function countFailure(env: CommitLoopEnv, cause: ClassifiedError, messages: number): void {
  env.onFailure(cause);
  env.metrics.commitFailures.inc({ handler: env.handlerName, cause: cause.cause });
  env.log.warn({ cause: cause.cause, err: cause.message, messages }, 'commit failed; its messages stay pending and it is tried again');
  if (cause.refusesWrites) env.health.noteWriteRefused(cause.message);
}

async function backoff(env: CommitLoopEnv, failures: number): Promise<void> {
  await env.sleep(Math.min(env.backoffMaxMs, retryPolicy.commitFirstPauseMs * 2 ** Math.min(failures - 1, 20)));
}
