import type { ApplyPlan } from '../../schemas/apply-plan.js';
import type { Limits } from './config.js';
import { planAge, priceOpen, type OpenPricing, type PlanAge, type PlanTimes } from './plan-checks.js';

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
  /** How old the plan is, or why its time cannot be trusted (plan-checks.ts planAge). */
  readonly age: PlanAge;
  /**
   * Seconds since the earliest time that vouches for an open (its entry's when its own timestamp is
   * not trusted); a close's is its entry's alone, so a producer's clock behind Redis's never blocks it.
   */
  readonly ageSec: number;
  /** The open priced at the market, or why it cannot be (plan-checks.ts priceOpen). */
  readonly pricing: OpenPricing;
  readonly qty: number | undefined;
  /** qty × the market's mark price; undefined when the open cannot be priced. */
  readonly notional: number | undefined;
}

/** The plan's facts: its age from its times, its size priced at the market's mark price. */
export function planFacts(
  plan: ApplyPlan,
  times: PlanTimes,
  now: number,
  markPrice: number | undefined,
  limits: Pick<Limits, 'planClockSkewSec' | 'priceTolerancePct'>,
): PlanFacts {
  const age = planAge(times, now, limits.planClockSkewSec);
  const qty = plan.qty === undefined ? undefined : Math.abs(plan.qty);
  const pricing = priceOpen({ qty, price: plan.price, notional: plan.notional }, markPrice, limits.priceTolerancePct);
  return {
    planId: plan.plan_id,
    symbol: plan.symbol,
    action: plan.action,
    side: plan.side ?? '',
    isClose: isClose(plan),
    killScore: plan.kill_score ?? 0,
    age,
    ageSec: isClose(plan) ? age.entryAgeSec : age.ageSec,
    pricing,
    qty,
    notional: pricing.kind === 'priced' ? pricing.notional : undefined,
  };
}
