import type { HandlerContext } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';
import { OUTCOME_QUEUE, parseOutcomeConfig, type OutcomeConfig } from './config.js';
import { outcomeMetrics, type OutcomeMetrics } from './metrics.js';

export type FollowUpKind = 'heat_downgrade' | 'governor_block';

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
}

/** What the two follow-up handlers declare alike: their settings, metrics and failure policy. */
export const followUpDeclaration = {
  config: parseOutcomeConfig,
  metrics: outcomeMetrics,
  // A decision that cannot be followed is kept in the dead-letter stream, never silently dropped.
  failure: { maxAttempts: 3, backoffMs: 25, policy: 'dead-letter' },
} as const;

export type OutcomeCtx = HandlerContext<OutcomeConfig, unknown, OutcomeMetrics>;

/** Days a follow-up record outlives its last horizon, so reports can still join it. */
const RECORD_DAYS_AFTER = 7;

/** The follow-up's id: its kind and the decision's stream entry, so a redelivery records nothing new. */
export function followUpId(kind: FollowUpKind, entryId: string): string {
  return `${kind === 'heat_downgrade' ? 'heat' : 'gov'}:${entryId}`;
}

/** BullMQ job ids may not contain ':'. */
export function sampleJobId(id: string, horizon: string): string {
  return `outcome.${id.replace(/:/g, '.')}.${horizon}`;
}

/**
 * Records a follow-up in the decision's own commit: its hash, its place in the pending index and
 * one delayed sample job per horizon (job ids derived from the follow-up, so a redelivered
 * decision schedules nothing twice). Beyond OUTCOME_MAX_PENDING outstanding follow-ups, new ones
 * are skipped and counted.
 */
export async function recordFollowUp(ctx: OutcomeCtx, id: string, followUp: FollowUp): Promise<void> {
  const { config, metrics } = ctx;
  const now = ctx.now();
  const decidedAt = Number(followUp.decided_at);
  const last = config.OUTCOME_HORIZONS[config.OUTCOME_HORIZONS.length - 1]!;
  const outstanding = await ctx.redis.zcount(keys.outcomePending, `(${now}`, '+inf');
  if (outstanding >= config.OUTCOME_MAX_PENDING) {
    metrics.skipped.inc({ kind: followUp.kind, reason: 'max_pending' });
    ctx.log.warn({ outstanding, max: config.OUTCOME_MAX_PENDING }, 'outcome follow-up skipped: too many pending');
    return;
  }
  ctx.putHash(keys.outcomeFollowUp(id), { ...followUp }, { ttlSec: Math.ceil(last.ms / 1000) + RECORD_DAYS_AFTER * 86_400 });
  ctx.trimSortedSet(keys.outcomePending, now);
  ctx.addToSortedSet(keys.outcomePending, decidedAt + last.ms, id);
  for (const horizon of config.OUTCOME_HORIZONS) {
    ctx.schedule({
      queue: OUTCOME_QUEUE,
      name: 'outcome-sample',
      data: { id, horizon: horizon.label, horizon_ms: horizon.ms },
      delayMs: decidedAt + horizon.ms - now,
      jobId: sampleJobId(id, horizon.label),
    });
  }
  metrics.followUps.inc({ kind: followUp.kind });
}
