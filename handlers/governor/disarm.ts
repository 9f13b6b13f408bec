import { keys } from '../../schemas/keys.js';
import type { ApplyPlan } from '../../schemas/apply-plan.js';
import type { FailureInfo } from '../../runtime/handler.js';
import { recordBlock, type GovernorCtx } from './record.js';

export type DisarmReason = 'governor_errors';

/** True when the errors counted in the window reach GOV_DISARM_ON_ERROR_COUNT. */
export function shouldDisarm(enabled: boolean, alreadyDisarmed: boolean, recentErrors: number, threshold: number): boolean {
  return enabled && !alreadyDisarmed && recentErrors >= threshold;
}

/**
 * Sets quantum:governor:disarm, which blocks every open until an operator deletes it. The error
 * window is cleared in the same commit, so re-arming starts from zero instead of tripping again
 * on the errors that caused this. Guarded so two replicas tripping at once count it once.
 */
export function tripDisarm(ctx: GovernorCtx, reason: DisarmReason, errors: number): void {
  const { config } = ctx;
  const now = ctx.now();
  ctx.requireAbsent(keys.governorDisarm);
  ctx.setKey(keys.governorDisarm, JSON.stringify({ reason, errors, window_sec: config.GOV_DISARM_WINDOW_SEC, ts: now / 1000 }));
  ctx.deleteKey(keys.governorErrors);
  ctx.emit(config.STREAM_EVENTS, {
    event: 'auto_disarm',
    reason,
    errors: String(errors),
    window_sec: String(config.GOV_DISARM_WINDOW_SEC),
    timestamp: String(now / 1000),
  });
  ctx.metrics.disarm.inc({ reason });
  ctx.log.error({ reason, errors, window_sec: config.GOV_DISARM_WINDOW_SEC }, 'AUTO-DISARM: opens blocked until quantum:governor:disarm is deleted');
}

/**
 * The fail-closed policy's output after retries: a governor_error block (never a permit) and
 * the error recorded for auto-disarm. Redis may be what failed, so the writes are effects and
 * the trip check is best-effort: if it cannot read, the next evaluated plan trips instead.
 */
export async function failClosed(plan: ApplyPlan, failure: FailureInfo, ctx: GovernorCtx): Promise<void> {
  const { config } = ctx;
  const now = ctx.now();
  const error = failure.error instanceof Error ? `${failure.error.name}: ${failure.error.message}` : String(failure.error);
  recordBlock(ctx, plan, 'governor_error', { error });
  ctx.metrics.errors.inc();

  const windowMs = config.GOV_DISARM_WINDOW_SEC * 1000;
  ctx.addToSortedSet(keys.governorErrors, now, `${now}-${plan.plan_id}`, { ttlSec: config.GOV_DISARM_WINDOW_SEC });
  ctx.trimSortedSet(keys.governorErrors, now - windowMs);
  if (!config.GOV_ENABLE_AUTO_DISARM) return;
  try {
    const [earlier, disarmed] = await Promise.all([
      ctx.redis.zcount(keys.governorErrors, `(${now - windowMs}`, '+inf'),
      ctx.redis.exists(keys.governorDisarm),
    ]);
    if (shouldDisarm(true, disarmed > 0, earlier + 1, config.GOV_DISARM_ON_ERROR_COUNT)) tripDisarm(ctx, 'governor_errors', earlier + 1);
  } catch (readError) {
    ctx.log.warn({ err: String(readError) }, 'could not read the error window; the next plan decides auto-disarm');
  }
}
