import type { ApplyPlan } from '../../schemas/apply-plan.js';
import { epochMs, usd } from './numbers.js';

/**
 * Exactly the seeds' closes, as the original's default path spells them (case-sensitive). Anything
 * else, FULL_CLOSE, PARTIAL_OPEN, partial_50, PARTIAL_10 or an open marked reduceOnly, faces the
 * caps: a close bypasses them, so a loose match would let an open through as one.
 */
const closeActions: ReadonlySet<string> = new Set(['FULL_CLOSE_PROPOSED', 'PARTIAL_75', 'PARTIAL_50', 'PARTIAL_25']);

/** Only plans marked decision=EXECUTE are the governor's business. */
export function isExecute(plan: ApplyPlan): boolean {
  return plan.decision?.toUpperCase() === 'EXECUTE';
}

/** Closes only reduce exposure, so they bypass the fund caps (never the kill switch). */
export function isClose(plan: ApplyPlan): boolean {
  return closeActions.has(plan.action);
}

/** The plan's facts the gates read, with its size priced at the best price known. */
export interface PlanFacts {
  readonly planId: string;
  readonly symbol: string;
  readonly action: string;
  readonly isClose: boolean;
  readonly killScore: number | undefined;
  /** Seconds since the plan was made (negative if its clock runs ahead of ours). */
  readonly ageSec: number;
  readonly qty: number | undefined;
  /** qty × mark price, or the plan's own notional; undefined when neither is known. */
  readonly notional: number | undefined;
}

/**
 * Prices a plan: qty × mark price (market state, else the position snapshot, else the plan's
 * own price), falling back to the plan's notional field.
 */
export function planFacts(plan: ApplyPlan, producedAtMs: number, now: number, markPrice: number | undefined): PlanFacts {
  const madeAt = plan.timestamp === undefined ? producedAtMs : epochMs(plan.timestamp);
  const price = markPrice ?? plan.price;
  const qty = plan.qty === undefined ? undefined : Math.abs(plan.qty);
  const notional = qty !== undefined && price !== undefined ? usd(qty * price) : plan.notional;
  return {
    planId: plan.plan_id,
    symbol: plan.symbol,
    action: plan.action,
    isClose: isClose(plan),
    killScore: plan.kill_score,
    ageSec: (now - madeAt) / 1000,
    qty,
    notional,
  };
}
