import type { ApplyPlan } from '../../schemas/apply-plan.js';
import { keys } from '../../schemas/keys.js';
import type { GovernorConfig } from './config.js';

/**
 * Whether a plan's decision writing `key` is its own (OwnKeys.writes): read by no other plan's
 * decision but one of the same plan_id or symbol, whose own reads name it (symbolReadsAhead and
 * the idempotency keys). The events stream is read by no decision; the book's memory
 * (keys.positionsHeld) is written from the book as read, so every plan deciding on one read writes
 * the same. Everything else a decision writes (a reservation and the caps version, the position
 * index's watch, a disarm, a counted error) is read by every plan after it.
 */
export function ownWrite(key: string, plan: ApplyPlan, config: GovernorConfig): boolean {
  return (
    key === config.STREAM_EVENTS ||
    key === keys.positionsHeld ||
    key === keys.governorPermitted(plan.plan_id) ||
    key === keys.permit(plan.plan_id) ||
    key === keys.governorBlock(plan.plan_id) ||
    key === keys.governorSymbolVersion(plan.symbol) ||
    key === keys.governorLastExec(plan.symbol) ||
    key === keys.governorExecutions(plan.symbol) ||
    key === keys.governorExitLock(plan.symbol) ||
    // The symbol's daily totals, one key a day (symbols never hold ':').
    key.startsWith(keys.governorDaily(plan.symbol, ''))
  );
}
