import type { MessageMeta } from '../contract/handler.js';
import type { ExtraEmit } from './effect-commands.js';
import type { EffectRecorder } from './effects.js';
import type { DeadLetterReason } from './dead-letter.js';

export type { DeadLetterReason } from './dead-letter.js';

/** What a settled delivery counts as in quantum_gates_messages_total. */
export type Outcome =
  | { readonly kind: 'handled' | 'fallback' | 'skipped' | 'unusable' | 'left-pending' }
  | { readonly kind: 'dead-letter'; readonly reason: DeadLetterReason };

/** The outcomes without a reason, shared: a delivery points at one instead of allocating its own. */
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

/** What a commit needs of an item: its entry to acknowledge, its recorded effects, its extra entries. */
export interface CommitItem {
  /** The stream entry to XACK; absent for BullMQ jobs, which BullMQ completes itself. */
  readonly entryId?: string | undefined;
  readonly recorder?: EffectRecorder | undefined;
  /** Extra entries to append atomically, e.g. the message's dead-letter record. */
  readonly extraEmits?: readonly ExtraEmit[] | undefined;
  /** Set by each commit the item takes part in. */
  answer?: CommitAnswer | undefined;
}

/**
 * One stream entry or one job, made once when it is read and carried through validation,
 * idempotency, execution, commit and settlement: every stage reads and writes its own fields
 * here, so no stage keeps a list parallel to the batch or an index into it.
 */
export class Delivery implements CommitItem {
  /** The message as the gate's schema parsed it; undefined until it validated. */
  message: unknown = undefined;
  /** Whether `message` holds a validated message (one the gate runs on). */
  valid = false;
  /** How many times `handle` has run for it in this process (retries included). */
  attempts = 0;
  /** The effects its handler (or failure policy, or hook) recorded; undefined for none. */
  recorder: EffectRecorder | undefined = undefined;
  /** Its dead-letter record, when it has one. */
  extraEmits: readonly ExtraEmit[] | undefined = undefined;
  outcome: Outcome = SKIPPED;
  answer: CommitAnswer | undefined = undefined;

  constructor(
    readonly meta: MessageMeta,
    /** What the schema validates; null for a stream entry deleted while pending (acknowledged with nothing to do). */
    readonly data: unknown,
    /** How often the source delivered it (a stream entry's delivery count; 1 for a job). */
    readonly deliveries: number,
    /** The stream entry to acknowledge; undefined for a job, which BullMQ completes. */
    readonly entryId: string | undefined,
  ) {}
}

/** A batch of deliveries after validation and the handler: each carries its outcome and what it commits. */
export interface PreparedBatch {
  readonly deliveries: readonly Delivery[];
  /** When the inputs became ours (a batch held too long may have been reclaimed). */
  readonly readAt: number;
  /** performance.now() when handling began, for the batch duration histogram. */
  readonly started: number;
}
