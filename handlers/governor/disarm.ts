import { keys } from '../../schemas/keys.js';
import type { ApplyPlan } from '../../schemas/apply-plan.js';
import type { FailureInfo } from '../../runtime/contract/index.js';
import { encodeGovernorEvent } from '../../schemas/governor-event.js';
import { DISARM_RECORD_TTL_SEC, encodeDisarmRecord } from '../../schemas/governor-records.js';
import { pyJsonDumps } from '../../schemas/python-json.js';
import { pySeconds } from '../../schemas/python-number.js';
import { utcDate } from './history.js';
import { recordBlock, type GovernorCtx } from './record.js';
import { errorWindowStart } from './snapshot.js';

/** The original's disarm reasons (_check_auto_disarm, the burst gate). */
export type DisarmReason = 'repeated_errors' | 'burst_limit_breach';

/** What the original's AUTO_DISARM event says it did; ours blocks opens at the governor instead. */
export const DISARM_ACTION_TAKEN = 'governor blocks opens until quantum:governor:disarm is deleted';

/** True when the errors counted reach GOV_DISARM_ON_ERROR_COUNT. */
export function shouldDisarm(enabled: boolean, alreadyDisarmed: boolean, recentErrors: number, threshold: number): boolean {
  return enabled && !alreadyDisarmed && recentErrors >= threshold;
}

/**
 * Disarms: sets quantum:governor:disarm (ours: blocks every open until an operator deletes it)
 * and, unless today's exists already, the original's record quantum:governor:disarm:{date}
 * (JSON reason, context, timestamp; TTL 24 h), which the release checklist reads; emits the
 * original's AUTO_DISARM event. The error count is cleared in the same commit, so re-arming starts
 * from zero. Guarded so two replicas tripping at once count it once.
 */
export function tripDisarm(ctx: GovernorCtx, reason: DisarmReason, context: Record<string, string | number>, disarmedToday: boolean): void {
  const { config } = ctx;
  const now = ctx.now();
  const record = encodeDisarmRecord({ reason, context, timestamp: now / 1000 });
  ctx.require(keys.governorDisarm, { is: 'absent' });
  ctx.put(keys.governorDisarm, record);
  if (!disarmedToday) ctx.put(keys.governorDisarmOfDay(utcDate(now)), record, { ttlSec: DISARM_RECORD_TTL_SEC });
  ctx.remove(keys.governorErrors);
  ctx.emit(
    config.STREAM_EVENTS,
    encodeGovernorEvent({
      event: 'AUTO_DISARM',
      reason,
      context: pyJsonDumps(context),
      timestamp: pySeconds(now),
      action_taken: DISARM_ACTION_TAKEN,
    }),
  );
  ctx.metrics.disarm.inc({ reason });
  ctx.log.error({ reason, context }, 'AUTO-DISARM: opens blocked until quantum:governor:disarm is deleted');
}

/** The original's context of an error disarm. */
export const errorContext = (errors: number, threshold: number) => ({ error_count: errors, threshold });

/**
 * The fail-closed policy's output after retries: an evaluation_error block (never a permit, as
 * the original's except branch) and the error recorded for auto-disarm. Redis may be what failed,
 * so the writes are effects and the trip check is best-effort: if it cannot read, the next
 * evaluated plan trips instead.
 */
export async function failClosed(plan: ApplyPlan, failure: FailureInfo, ctx: GovernorCtx): Promise<void> {
  const { config } = ctx;
  const now = ctx.now();
  const error = failure.error instanceof Error ? `${failure.error.name}: ${failure.error.message}` : String(failure.error);
  recordBlock(ctx, plan, 'evaluation_error', { error });
  ctx.metrics.errors.inc();

  const windowSec = config.GOV_DISARM_WINDOW_SEC;
  ctx.add(keys.governorErrors, `${now}-${plan.plan_id}`, { to: 'sorted-set', score: now, ...(windowSec > 0 ? { ttlSec: windowSec } : {}) });
  if (windowSec > 0) ctx.remove(keys.governorErrors, { from: 'sorted-set', scoredAtMost: now - windowSec * 1000 });
  if (!config.GOV_ENABLE_AUTO_DISARM) return;
  try {
    const [earlier, disarmed, today] = await Promise.all([
      ctx.redis.zcount(keys.governorErrors, errorWindowStart(config, now), '+inf'),
      ctx.redis.exists(keys.governorDisarm),
      ctx.redis.exists(keys.governorDisarmOfDay(utcDate(now))),
    ]);
    if (shouldDisarm(true, disarmed > 0, earlier + 1, config.GOV_DISARM_ON_ERROR_COUNT)) {
      tripDisarm(ctx, 'repeated_errors', errorContext(earlier + 1, config.GOV_DISARM_ON_ERROR_COUNT), today > 0);
    }
  } catch (readError) {
    ctx.log.warn({ err: String(readError) }, 'could not read the error count; the next plan decides auto-disarm');
  }
}
