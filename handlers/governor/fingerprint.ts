import { createHash } from 'node:crypto';
import type { ApplyPlan } from '../../schemas/apply-plan.js';

/**
 * What makes two deliveries of a plan_id the same plan: its order fields. Provenance a redelivery
 * may add (a replay's original_id and replayed_from, a retry's timestamp) is left out, so a replay
 * of the same plan reads as the same plan; a different symbol, side, size or action does not.
 */
export function planFingerprint(plan: ApplyPlan): string {
  const order = [
    plan.symbol,
    plan.action,
    plan.side ?? '',
    plan.qty ?? '',
    plan.price ?? '',
    plan.notional ?? '',
    plan.reduceOnly ?? '',
    plan.decision ?? '',
  ];
  return createHash('sha256').update(JSON.stringify(order)).digest('hex').slice(0, 32);
}
