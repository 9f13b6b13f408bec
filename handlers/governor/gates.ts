import type { Limits } from './config.js';
import { usd } from './numbers.js';
import type { PlanFacts } from './plan.js';
import type { GateReason, Verdict } from './reasons.js';
import type { GovernorSnapshot } from './snapshot.js';

/** One rule of the gate table: the reason it blocks with, or undefined to pass. Pure. */
export type Gate = (plan: PlanFacts, limits: Limits, snapshot: GovernorSnapshot) => GateReason | undefined;

/** on(cap) is false for a cap of 0: 0 disables. */
const on = (cap: number) => cap > 0;

export const planTooOld: Gate = (plan, limits) => (on(limits.maxPlanAgeSec) && plan.ageSec > limits.maxPlanAgeSec ? 'plan_too_old' : undefined);

export const killSwitchActive: Gate = (_plan, _limits, snapshot) => (snapshot.killSwitch ? 'kill_switch_active' : undefined);

export const disarmed: Gate = (_plan, _limits, snapshot) => (snapshot.disarmed ? 'disarmed' : undefined);

export const killScoreCritical: Gate = (plan, limits) =>
  on(limits.killScoreCritical) && plan.killScore !== undefined && plan.killScore >= limits.killScoreCritical ? 'kill_score_critical' : undefined;

export const symbolCooldown: Gate = (_plan, limits, snapshot) => (on(limits.cooldownSec) && snapshot.cooldown !== undefined ? 'symbol_cooldown' : undefined);

/** A cap of N allows the Nth permit in the window and blocks the (N+1)th. */
export const rateLimitHour: Gate = (_plan, limits, snapshot) =>
  on(limits.maxExecPerHour) && snapshot.execLastHour >= limits.maxExecPerHour ? 'rate_limit_hour' : undefined;

export const rateLimit5Min: Gate = (_plan, limits, snapshot) =>
  on(limits.maxExecPer5Min) && snapshot.execLast5Min >= limits.maxExecPer5Min ? 'rate_limit_5min' : undefined;

/** As the original: with N or more positions open, no open is permitted. */
export const maxPositionsReached: Gate = (_plan, limits, snapshot) =>
  on(limits.maxOpenPositions) && snapshot.openPositions >= limits.maxOpenPositions ? 'max_positions_reached' : undefined;

/**
 * An open whose size cannot be priced (no qty, or qty but no mark price, plan price or notional)
 * cannot be checked against the notional caps, so it is not permitted while any of them is on.
 * (The original priced it at $0 and let it through.)
 */
export const notionalUnknown: Gate = (plan, limits) =>
  plan.notional === undefined && (on(limits.maxNotionalPerTrade) || on(limits.maxTotalNotional) || limits.p28Mode === 'enforce')
    ? 'notional_unknown'
    : undefined;

/** A trade exactly at the cap is allowed; a cent over is not. */
export const notionalPerTradeExceeded: Gate = (plan, limits) =>
  on(limits.maxNotionalPerTrade) && (plan.notional ?? 0) > limits.maxNotionalPerTrade ? 'notional_per_trade_exceeded' : undefined;

/**
 * Blocks when the portfolio is already at or over the cap (the seed's "≥ $2,000"), or when this
 * trade would take it over: a trade that lands the total exactly on the cap is allowed.
 */
export const totalNotionalExceeded: Gate = (plan, limits, snapshot) => {
  if (!on(limits.maxTotalNotional)) return undefined;
  const after = usd(snapshot.totalNotional + (plan.notional ?? 0));
  return snapshot.totalNotional >= limits.maxTotalNotional || after > limits.maxTotalNotional ? 'total_notional_exceeded' : undefined;
};

/** The P2.8 verdict, whatever the mode: over the symbol's fresh budget, or a recent violation. */
export function overBudget(plan: PlanFacts, snapshot: GovernorSnapshot): boolean {
  if (!snapshot.budget) return false; // missing or stale budget: fail open
  if (snapshot.recentViolation) return true;
  return usd(snapshot.symbolNotional + (plan.notional ?? 0)) > snapshot.budget.budgetUsd;
}

/** Blocks only in P28_MODE=enforce; shadow mode counts the verdict instead (see the handler). */
export const p28BudgetViolation: Gate = (plan, limits, snapshot) =>
  limits.p28Mode === 'enforce' && overBudget(plan, snapshot) ? 'p28_budget_violation' : undefined;

/** Gates every plan faces, closes included. */
export const everyPlanGates: readonly Gate[] = [planTooOld, killSwitchActive];

/** Gates only opens face, in the order of the design's table. */
export const openGates: readonly Gate[] = [
  disarmed,
  killScoreCritical,
  symbolCooldown,
  rateLimitHour,
  rateLimit5Min,
  maxPositionsReached,
  notionalUnknown,
  notionalPerTradeExceeded,
  totalNotionalExceeded,
  p28BudgetViolation,
];

function firstBlock(gates: readonly Gate[], plan: PlanFacts, limits: Limits, snapshot: GovernorSnapshot): GateReason | undefined {
  for (const gate of gates) {
    const reason = gate(plan, limits, snapshot);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** The gate chain: the first gate that blocks decides; closes skip the open gates. */
export function evaluate(plan: PlanFacts, limits: Limits, snapshot: GovernorSnapshot): Verdict {
  const always = firstBlock(everyPlanGates, plan, limits, snapshot);
  if (always) return { kind: 'block', reason: always };
  if (plan.isClose) return { kind: 'permit', reason: 'close_bypass' };
  const reason = firstBlock(openGates, plan, limits, snapshot);
  return reason ? { kind: 'block', reason } : { kind: 'permit', reason: 'all_gates_passed' };
}
