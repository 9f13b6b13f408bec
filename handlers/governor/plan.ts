import type { ApplyPlan } from '../../schemas/apply-plan.js';
import { epochMs, usd } from './numbers.js';

/**
 * The testnet path's closes, exactly as the original spells them (case-sensitive): they bypass the
 * fund caps. Anything else, FULL_CLOSE, PARTIAL_OPEN, partial_50, PARTIAL_10 or an open marked
 * reduceOnly, faces the caps.
 */
const closeActions: ReadonlySet<string> = new Set(['FULL_CLOSE_PROPOSED', 'PARTIAL_75', 'PARTIAL_50', 'PARTIAL_25']);

/**
 * The production path's exemption from the kill-score gate: the original's list has no
 * PARTIAL_25 (`action not in ['FULL_CLOSE_PROPOSED', 'PARTIAL_75', 'PARTIAL_50']`).
 */
const killScoreExempt: ReadonlySet<string> = new Set(['FULL_CLOSE_PROPOSED', 'PARTIAL_75', 'PARTIAL_50']);

/**
 * Only plans whose decision is exactly "EXECUTE" are the governor's business, as in the original
 * (`if decision != 'EXECUTE': return`): the raw field, case and spaces included.
 */
export function isExecute(rawDecision: string | undefined): boolean {
  return rawDecision === 'EXECUTE';
}

/** Closes only reduce exposure, so they bypass the fund caps (never the kill switch). */
export function isClose(plan: ApplyPlan): boolean {
  return closeActions.has(plan.action);
}

export function isKillScoreExempt(action: string): boolean {
  return killScoreExempt.has(action);
}

/** production: the share of the position a plan closes (`else: … 0.75  # Default fallback`). */
export function closeFraction(action: string): number {
  if (action === 'FULL_CLOSE_PROPOSED') return 1;
  if (action === 'PARTIAL_50') return 0.5;
  return 0.75;
}

/** The plan's facts the gates read, with its size priced at the best price known. */
export interface PlanFacts {
  readonly planId: string;
  readonly symbol: string;
  readonly action: string;
  readonly side: string;
  readonly isClose: boolean;
  /** The original reads an absent kill_score as 0. */
  readonly killScore: number;
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
    side: plan.side ?? '',
    isClose: isClose(plan),
    killScore: plan.kill_score ?? 0,
    ageSec: (now - madeAt) / 1000,
    qty,
    notional,
  };
}
