import type { BatchHints, HandlerContext, MessageMeta } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';
import { encodeOutcome } from '../../schemas/outcome.js';
import { parseOutcomeConfig, type OutcomeConfig } from './config.js';
import { dueSample } from './due.js';
import { isLate, outcomeEntry } from './entry.js';
import { outcomeMetrics, type OutcomeMetrics } from './metrics.js';
import { claimPendingSlot, readPending, type PendingRead } from './pending.js';

/**
 * heat_downgrade and governor_block: decisions that changed exposure. governor_permit: a permitted
 * open, followed only as the counterfactual of blocking it (`report calibrate`, tighter caps); it
 * changed nothing, so the outcomes report and the status page leave it out.
 */
export type FollowUpKind = 'heat_downgrade' | 'governor_block' | 'governor_permit';

/** Follow-ups of decisions that changed nothing, kept for what-ifs only (not in the outcomes figures). */
export const REFERENCE_KINDS: ReadonlySet<string> = new Set<FollowUpKind>(['governor_permit']);

/** A decision that changed exposure, as recorded for its samples (all strings: a Redis hash). */
export interface FollowUp {
  readonly kind: FollowUpKind;
  readonly symbol: string;
  readonly plan_id: string;
  /** Heat bucket of a heat decision; '' for the governor. */
  readonly bucket: string;
  /** The heat gate's mode (shadow: what enforce would have done; enforce: what it did); the governor's: enforce. */
  readonly mode: string;
  readonly proposed_action: string;
  readonly decided_action: string;
  /**
   * Signed USD exposure of the decision minus the proposal's (long positive): a downgrade keeps
   * the rest of the position open (+ for a long); a blocked open holds none of the open's.
   */
  readonly exposure_usd: string;
  readonly entry_price: string;
  readonly decided_at: string;
  /** `decision`: the gate recorded entry_price (and a heat decision's position) with the decision; `follow_up`: read when the decision was read. */
  readonly entry_source: 'decision' | 'follow_up';
  /** ms: when the follow-up read the decision. */
  readonly followed_at: string;
  /** '1' when that was more than OUTCOME_LATE_SEC after decided_at (the decision's stream entry time). */
  readonly read_late: '0' | '1';
  /** The quote entry_price is: its source (market_state, p33, ticker, position), its time (ms) and age at the decision (ms); absent when not known. */
  readonly entry_price_source?: string;
  readonly entry_price_at?: string;
  readonly entry_price_age_ms?: string;
}

/** What the two follow-up handlers declare alike: their settings, metrics, batch state and failure policy. */
export function followUpDeclaration(kind: FollowUpKind) {
  return {
    config: parseOutcomeConfig,
    metrics: outcomeMetrics,
    // The pending index's count and version (pending.ts), read after the decision before committed.
    batch: { loadState: (redis, _config, now) => readPending(redis, now), commitEach: true } satisfies BatchHints<
      OutcomeConfig,
      PendingRead,
      OutcomeMetrics
    >,
    // A decision already followed (its record exists) records nothing again: no second set of
    // missing samples, no second pending slot.
    idempotency: {
      keys: (_message: unknown, meta: MessageMeta) => [keys.outcomeFollowUp(followUpId(kind, meta.id))],
      onDuplicate: () => undefined,
    },
    // A decision that cannot be followed is kept in the dead-letter stream, never silently dropped.
    failure: { maxAttempts: 3, backoffMs: 25, policy: 'dead-letter' },
  } as const;
}

export type OutcomeCtx = HandlerContext<OutcomeConfig, PendingRead | undefined, OutcomeMetrics>;

type Reading = { readonly followedAt: number; readonly late: boolean };

/** When the follow-up reads the decision, and whether that is late (OUTCOME_LATE_SEC). */
export function readingOf(ctx: OutcomeCtx): Reading {
  const followedAt = ctx.now();
  return { followedAt, late: isLate(followedAt, ctx.meta.producedAt, ctx.config.OUTCOME_LATE_SEC) };
}

/**
 * A follow-up's fields of how its entry price was had: when the decision was made and read, whether
 * the price came with the decision or was read by the follow-up, and the quote it is (only what is known).
 */
export function entryFields(
  ctx: OutcomeCtx,
  reading: Reading,
  fromDecision: boolean,
  quote: { readonly source?: string | undefined; readonly at?: number | undefined; readonly ageMs?: number | undefined },
): Pick<
  FollowUp,
  'decided_at' | 'entry_source' | 'followed_at' | 'read_late' | 'entry_price_source' | 'entry_price_at' | 'entry_price_age_ms'
> {
  return {
    decided_at: String(ctx.meta.producedAt),
    entry_source: fromDecision ? 'decision' : 'follow_up',
    followed_at: String(reading.followedAt),
    read_late: reading.late ? '1' : '0',
    ...(quote.source === undefined ? {} : { entry_price_source: quote.source }),
    ...(quote.at === undefined ? {} : { entry_price_at: String(quote.at) }),
    ...(quote.ageMs === undefined ? {} : { entry_price_age_ms: String(quote.ageMs) }),
  };
}

/** Days a follow-up record outlives its last horizon, so reports can still join it. */
const RECORD_DAYS_AFTER = 7;

/** The follow-up's id: its kind and the decision's stream entry, so a redelivery records nothing new. */
export function followUpId(kind: FollowUpKind, entryId: string): string {
  // A permit and a block are different entries: 'gov:' with the entry id names either.
  return `${kind === 'heat_downgrade' ? 'heat' : 'gov'}:${entryId}`;
}

/** BullMQ job ids may not contain ':'. */
export function sampleJobId(id: string, horizon: string): string {
  return `outcome.${id.replace(/:/g, '.')}.${horizon}`;
}

/**
 * Records a follow-up in the decision's own commit: its hash, its place in the pending index and
 * a sample per horizon still ahead in keys.outcomeDue, due at the decision's time plus the horizon,
 * which the sweep takes once due (sample.ts outcomeSweep; one member a follow-up and horizon, so a
 * redelivered decision adds nothing twice). A horizon that passed more than OUTCOME_LATE_SEC
 * before the decision was read is recorded at once as missing (`horizon_past`): sampling it now
 * would price it at today's mark, not the horizon's. A follow-up with every horizon past takes no
 * pending slot. Beyond OUTCOME_MAX_PENDING outstanding follow-ups, new ones are skipped and
 * counted; the bound is checked in the commit (pending.ts).
 */
export function recordFollowUp(ctx: OutcomeCtx, id: string, followUp: FollowUp): void {
  const { config, metrics } = ctx;
  const now = ctx.now();
  const decidedAt = Number(followUp.decided_at);
  const horizons = config.OUTCOME_HORIZONS;
  const last = horizons[horizons.length - 1]!;
  const past = horizons.filter((h) => isLate(now, decidedAt + h.ms, config.OUTCOME_LATE_SEC));
  const ahead = horizons.filter((h) => !past.includes(h));
  if (ahead.length > 0) {
    const pending = ctx.state;
    if (pending === undefined) throw new Error('outcome follow-up without its batch state (the pending count)');
    if (!claimPendingSlot(ctx, pending, config.OUTCOME_MAX_PENDING)) {
      metrics.skipped.inc({ kind: followUp.kind, reason: 'max_pending' });
      ctx.log.warn({ outstanding: pending.pending, max: config.OUTCOME_MAX_PENDING }, 'outcome follow-up skipped: too many pending');
      return;
    }
  }
  const record: Record<string, string> = { ...followUp, ...(ahead.length === 0 ? { missing_reason: 'horizon_past' } : {}) };
  ctx.put(keys.outcomeFollowUp(id), record, { ttlSec: Math.ceil(last.ms / 1000) + RECORD_DAYS_AFTER * 86_400 });
  for (const horizon of past) {
    ctx.put(keys.outcomeSample(id, horizon.label), '1', { ttlSec: SAMPLE_KEY_TTL_SEC });
    ctx.emit(
      config.OUTCOME_STREAM,
      encodeOutcome(
        outcomeEntry(id, record, horizon, {
          sampled_at: now,
          price: undefined,
          pnl_usd: undefined,
          worst_pnl_usd: undefined,
          sample_late: true,
          missing_reason: 'horizon_past',
          price_source: undefined,
          price_at: undefined,
          late_bound_sec: config.OUTCOME_LATE_SEC,
        }),
      ),
    );
    metrics.samples.inc({ horizon: horizon.label, priced: '0' });
  }
  if (past.length > 0) {
    ctx.log.warn(
      { horizons: past.map((h) => h.label), lag_ms: now - decidedAt },
      'outcome follow-up read after its horizons: recorded as missing',
    );
  }
  if (ahead.length > 0) {
    ctx.remove(keys.outcomePending, { from: 'sorted-set', scoredAtMost: now });
    ctx.add(keys.outcomePending, id, { to: 'sorted-set', score: decidedAt + last.ms });
  }
  for (const horizon of ahead) ctx.add(keys.outcomeDue, dueSample(id, horizon), { to: 'sorted-set', score: decidedAt + horizon.ms });
  metrics.followUps.inc({ kind: followUp.kind });
}

/** As the sample job's own key (sample.ts). */
export const SAMPLE_KEY_TTL_SEC = 8 * 86_400;
