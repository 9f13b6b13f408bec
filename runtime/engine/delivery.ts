import type { FailureInfo, MessageMeta } from '../contract/handler.js';
import type { ExtraEmit } from './effect-commands.js';
import type { EffectRecorder } from './effects.js';
import type { DeadLetterReason } from './dead-letter.js';

/** What a settled delivery counts as in quantum_gates_messages_total. */
export type Outcome =
  | { readonly kind: 'handled' | 'fallback' | 'skipped' | 'unusable' | 'left-pending' }
  | { readonly kind: 'dead-letter'; readonly reason: DeadLetterReason }
  // A dead letter Redis kept refusing (its stream of another type): logged whole and counted, the entry acknowledged without it.
  | { readonly kind: 'dead-letter-lost'; readonly reason: DeadLetterReason };

/** Shared: a delivery points at one instead of allocating its own. */
export const HANDLED: Outcome = Object.freeze({ kind: 'handled' });
export const FALLBACK: Outcome = Object.freeze({ kind: 'fallback' });
export const SKIPPED: Outcome = Object.freeze({ kind: 'skipped' });
export const UNUSABLE: Outcome = Object.freeze({ kind: 'unusable' });
export const LEFT_PENDING: Outcome = Object.freeze({ kind: 'left-pending' });

/**
 * What one commit did with one item:
 * - committed: its effects and acknowledgement applied;
 * - conflicted: a guard of its no longer held (or an earlier item of its keys did not commit): run it again on fresh data;
 * - lost: another consumer reclaimed (or acknowledged) its entry meanwhile: nothing of it applied, it is that consumer's;
 * - superseded: acknowledged without its effects, its newest-wins key already held a later id;
 * - withheld: not acknowledged because a write of its failed (the report's effectFailures say which): commit it again;
 * - waiting: an earlier entry of its stream (orderBy) has not committed: nothing applied, run it again after a pause.
 */
export type CommitAnswer = 'committed' | 'conflicted' | 'lost' | 'superseded' | 'withheld' | 'waiting';

export interface CommitItem {
  /** The stream entry to XACK; absent for BullMQ jobs, which BullMQ completes itself. */
  readonly entryId?: string | undefined;
  readonly recorder?: EffectRecorder | undefined;
  /** The message decided (OwnKeys.writes judges its writes). */
  readonly message?: unknown;
  /** Extra entries to append atomically, e.g. the message's dead-letter record. */
  readonly extraEmits?: readonly ExtraEmit[] | undefined;
  answer?: CommitAnswer | undefined;
}

/** One stream entry or job, carried through every stage, so no stage keeps a list parallel to the batch. */
export class Delivery implements CommitItem {
  /** The message as the gate's schema parsed it; undefined until it validated. */
  message: unknown = undefined;
  valid = false;
  /** How many times `handle` has run for it in this process. */
  attempts = 0;
  /** What its handler (or failure policy, or hook) recorded. */
  recorder: EffectRecorder | undefined = undefined;
  extraEmits: readonly ExtraEmit[] | undefined = undefined;
  outcome: Outcome = SKIPPED;
  answer: CommitAnswer | undefined = undefined;
  /** A dead letter's: the refusal its last commits met, and how many times in a row (commit-loop.ts holdRefused). */
  refused: { readonly message: string; readonly times: number } | undefined = undefined;
  /**
   * A failure known before it is decided: its failure policy decides without running `handle`
   * (a rehearsal of a decision taped as its fallback, whose failed attempts' reads are not taped;
   * a unit test of a fallback). The runtime never sets it.
   */
  failedBefore: FailureInfo | undefined = undefined;

  constructor(
    readonly meta: MessageMeta,
    /** What the schema validates; null for a stream entry deleted while pending (acknowledged with nothing to do). */
    readonly data: unknown,
    /** A stream entry's delivery count; 1 for a job. */
    readonly deliveries: number,
    readonly entryId: string | undefined,
  ) {}
}

export interface PreparedBatch {
  readonly deliveries: readonly Delivery[];
  /** Those of them left to decide once the ones before them commit (execute.ts SharedRun). */
  readonly later: readonly Delivery[];
  /** When the inputs became ours (one held too long may have been reclaimed). */
  readonly readAt: number;
  /** performance.now() when handling began. */
  readonly started: number;
}
