import { highest, lowest } from '../../domain/extent.js';
import type { Horizon } from '../../handlers/outcomes/horizons.js';

/**
 * The follow-ups whose samples are still to come, from the outcome gates' pending index
 * (quantum:gates:outcome:pending: each followed decision scored at its last horizon's time). A
 * decision's samples fall at each horizon after it was decided, so the index gives every due time.
 */
export interface PendingFollowUps {
  /** Decisions followed with a sample still to come. */
  readonly decisions: number;
  /** The horizons (OUTCOME_HORIZONS as this command reads it). */
  readonly horizons: readonly string[];
  /** When the next sample is due (ms), and the last: null when none is pending. */
  readonly next_due: number | null;
  readonly last_due: number | null;
}

/** `scored`: [member, score] pairs of the pending index whose last horizon is after `now`. */
export function pendingFollowUps(
  scored: readonly (readonly [string, number])[],
  horizons: readonly Horizon[],
  now: number,
): PendingFollowUps {
  const last = horizons[horizons.length - 1];
  const dues =
    last === undefined ? [] : scored.flatMap(([, lastDue]) => horizons.map((h) => lastDue - last.ms + h.ms).filter((at) => at > now));
  return {
    decisions: scored.length,
    horizons: horizons.map((h) => h.label),
    next_due: dues.length === 0 ? null : lowest(dues),
    last_due: dues.length === 0 ? null : highest(dues),
  };
}

/** One line for the text report; nothing when no follow-up is pending. */
export function formatPending(p: PendingFollowUps): string {
  if (p.decisions === 0 || p.next_due === null || p.last_due === null) return '';
  const at = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  const decisions = p.decisions === 1 ? '1 decision is' : `${p.decisions} decisions are`;
  return (
    `follow-ups due: ${decisions} followed, with samples at ${p.horizons.join(', ')} after each; ` +
    `the next at ${at(p.next_due)}, the last at ${at(p.last_due)}. Run this report again then.\n`
  );
}
