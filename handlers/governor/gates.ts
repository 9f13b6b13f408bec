import type { ApplyMode, Limits } from './config.js';
import { usd } from './numbers.js';
import { closeFraction, isKillScoreExempt, type PlanFacts } from './plan.js';
import type { PlanCheckReason } from './plan-checks.js';
import type { GateReason, Verdict } from './reasons.js';
import type { GovernorSnapshot } from './snapshot.js';

/** One rule of the gate table: the reason it blocks with, or undefined to pass. Pure. */
export type Gate = (plan: PlanFacts, limits: Limits, snapshot: GovernorSnapshot) => GateReason | undefined;

/** Every plan-check reason is a gate reason (a compile error here if one is not listed in reasons.ts). */
const asGateReason = (reason: PlanCheckReason): GateReason => reason;

/** on(cap) is false for a cap of 0: 0 disables. */
const on = (cap: number) => cap > 0;

// ---- every path (ours: the deliberate safety rules of DESIGN.md) ----

/**
 * Ours: a timestamp ahead of Redis's clock, or in no known unit, names no time the plan was made,
 * so an open waits for a plan whose time can be trusted. A close passes: clocks that disagree
 * must never keep a position open (its age is its entry's, which Redis stamped).
 */
export const planTimeUntrusted: Gate = (plan) => (!plan.isClose && plan.age.kind === 'block' ? asGateReason(plan.age.reason) : undefined);

export const planTooOld: Gate = (plan, limits) =>
  on(limits.maxPlanAgeSec) && plan.ageSec > limits.maxPlanAgeSec ? 'plan_too_old' : undefined;

/** The original's testnet Gate 0; ours on every path, and with the fail-closed definition. */
export const killSwitchActive: Gate = (_plan, _limits, snapshot) => (snapshot.killSwitch ? 'kill_switch_active' : undefined);

/** Ours: after an auto-disarm, opens (anything but the four closes) wait for an operator. */
export const disarmed: Gate = (plan, _limits, snapshot) => (!plan.isClose && snapshot.disarmed ? 'disarmed' : undefined);

/**
 * Ours (issue #59): while Redis may evict keys, opens wait for noeviction. An evicting Redis drops
 * the reservations and permitted-markers the caps and the one-permit rule stand on, so no cap
 * holds; closes pass, as under disarm (eviction.ts says why, and why the policy is read per plan).
 */
export const redisMayEvict: Gate = (plan, _limits, snapshot) =>
  !plan.isClose && snapshot.redisMayEvict !== undefined ? 'redis_may_evict' : undefined;

// ---- testnet (8f5055c52 `if current_mode == 'testnet'`) ----

/** Gate 1: `time.time() - float(last_exec) < SYMBOL_COOLDOWN_SECONDS`. */
export const symbolCooldown: Gate = (_plan, limits, snapshot) =>
  on(limits.cooldownSec) && snapshot.lastExecSec !== undefined && snapshot.now / 1000 - snapshot.lastExecSec < limits.cooldownSec
    ? 'symbol_cooldown'
    : undefined;

/**
 * Ours: a listing read of the position book that Redis refused (an index or the snapshot stream of
 * another type, or one the gates' user may not read) leaves out every position it would have
 * listed: no cap can be judged, so an open is blocked naming the keys (the event's
 * unreadable_listings). Closes never face it (the close bypass): they are never priced for the caps.
 */
export const positionsUnreadable: Gate = (_plan, _limits, snapshot) =>
  (snapshot.unreadableListings?.length ?? 0) > 0 ? 'positions_unreadable' : undefined;

/**
 * production: a plan is sized from its symbol's position; with a listing unreadable, a position
 * the reads did not find may be one the unreadable listing holds, of unknown size. A position
 * found (the direct read of P3.3, the rest of the book) is sized as ever.
 */
export const ownPositionUnreadable: Gate = (plan, limits, snapshot) =>
  snapshot.ownPosition === undefined ? positionsUnreadable(plan, limits, snapshot) : undefined;

/**
 * Gate 2: only for `side in ['BUY', 'LONG']`; with N or more (non-dust) positions open, no open.
 * Ours (issue #23): the positions that permitted opens will take count too until they show in
 * the book (reservations.ts), as upstream's slot semaphore counts them (857b05342).
 */
export const maxPositionsReached: Gate = (plan, limits, snapshot) =>
  (plan.side === 'BUY' || plan.side === 'LONG') &&
  on(limits.maxOpenPositions) &&
  snapshot.openPositions + snapshot.reservedPositions >= limits.maxOpenPositions
    ? 'max_positions_reached'
    : undefined;

/**
 * Ours (stricter, always on): an open is priced at the market (qty × mark) and the plan's own
 * price and notional only confirm it; one that cannot be priced, or whose figures disagree, is not
 * judged at all. (The original priced it from the plan, or skipped both caps without a price, so
 * a price of "0" or a small qty beside a large notional bought a permit.)
 */
export const openUnpriced: Gate = (plan) => (plan.pricing.kind === 'block' ? asGateReason(plan.pricing.reason) : undefined);

/**
 * Ours (issue #70): a quote or position figure of the plan's own symbol was refused (stamped ahead,
 * no number, a key Redis refuses to read), so what remains of its price is no longer cross-checked:
 * the one quote left may be the wrong one (a market state at 1/1000 once the ticker is refused). The
 * open is priced as unknown, `market_price_unknown`, the event naming what was refused
 * (`refused_inputs`). A refusal never raises trust in what remains. Closes never face it.
 */
export const openPriceUntrusted: Gate = (_plan, _limits, snapshot) =>
  (snapshot.refusedInputs?.length ?? 0) > 0 ? 'market_price_unknown' : undefined;

/** Gate 3: `abs(qty) × mark > MAX_NOTIONAL_PER_TRADE_USDT`; a trade exactly at the cap is allowed. */
export const notionalPerTradeExceeded: Gate = (plan, limits) =>
  on(limits.maxNotionalPerTrade) && (plan.notional ?? 0) > limits.maxNotionalPerTrade ? 'notional_per_trade_exceeded' : undefined;

/**
 * Ours: the total cap counts every open position at its mark, and one that no producer prices
 * (P3.3's mark_price "0" or none, no ticker, no market state) is not $0: while any is open the
 * total is unknown, so opens are blocked (the event names the symbols). Closes never face it.
 */
export const positionPriceUnknown: Gate = (_plan, limits, snapshot) =>
  on(limits.maxTotalNotional) && (snapshot.unpricedPositions?.length ?? 0) > 0 ? 'position_price_unknown' : undefined;

/**
 * Gate 4: the book alone at or over the cap (`total_notional >= MAX_TOTAL_NOTIONAL_USDT`), as the
 * original computes it. With GOV_TOTAL_NOTIONAL_COUNTS_TRADE also a trade that would take the
 * book over it.
 */
export const totalNotionalExceeded: Gate = (plan, limits, snapshot) => {
  if (!on(limits.maxTotalNotional)) return undefined;
  // Ours (issue #23): the book plus the notional of permitted opens not yet in it.
  const exposure = usd(snapshot.totalNotional + snapshot.reservedNotional);
  if (exposure >= limits.maxTotalNotional) return 'total_notional_exceeded';
  return limits.totalCountsTrade && usd(exposure + (plan.notional ?? 0)) > limits.maxTotalNotional ? 'total_notional_exceeded' : undefined;
};

// ---- production (the original's fall-through path) ----

/**
 * The P2.8 verdict (_check_portfolio_budget): a fresh budget hash whose own `mode` is enforce and
 * a budget.violation for the symbol younger than 30 s. (The original read the violation's field
 * as bytes on a string client, so it never matched: fixed.) With GOV_P28_BLOCK_OVER_BUDGET also
 * symbol notional + trade over budget_usd.
 */
export function overBudget(plan: PlanFacts, limits: Limits, snapshot: GovernorSnapshot): boolean {
  const budget = snapshot.budget;
  if (!budget || budget.mode !== 'enforce') return false; // missing, stale or shadow: allow
  if (snapshot.recentViolation) return true;
  return limits.p28BlockOverBudget && usd(snapshot.symbolNotional + (plan.notional ?? 0)) > budget.budgetUsd;
}

/** Gate 0 of production (testnet only logs the verdict). */
export const p28BudgetViolation: Gate = (plan, limits, snapshot) =>
  overBudget(plan, limits, snapshot) ? 'p28_budget_violation' : undefined;

/** Gate 1: `kill_score >= KILL_SCORE_CRITICAL` and the action is not FULL_CLOSE_PROPOSED, PARTIAL_75 or PARTIAL_50. */
export const killScoreCriticalNonClose: Gate = (plan, limits) =>
  on(limits.killScoreCritical) && plan.killScore >= limits.killScoreCritical && !isKillScoreExempt(plan.action)
    ? 'kill_score_critical_non_close'
    : undefined;

/** Gate 2: executions of the symbol in the last hour `>= MAX_EXEC_PER_HOUR`. */
export const hourlyLimitExceeded: Gate = (_plan, limits, snapshot) =>
  on(limits.maxExecPerHour) && snapshot.execLastHour >= limits.maxExecPerHour ? 'hourly_limit_exceeded' : undefined;

/** Gate 3: in the last 5 minutes `>= MAX_EXEC_PER_5MIN` (the handler then auto-disarms). */
export const burstLimitExceeded: Gate = (_plan, limits, snapshot) =>
  on(limits.maxExecPer5Min) && snapshot.execLast5Min >= limits.maxExecPer5Min ? 'burst_limit_exceeded' : undefined;

/**
 * The size a production permit carries: |position| × the action's share, priced at the mark.
 * A flat symbol sizes 0 (as the exchange's position for it); undefined when the symbol's position
 * is known but has neither a quantity nor a notional and price to derive one from.
 */
export function productionSize(plan: PlanFacts, snapshot: GovernorSnapshot): { qty: number; notional: number } | undefined {
  const own = snapshot.ownPosition;
  const mark = snapshot.markPrice;
  let positionQty = 0;
  if (own !== undefined) {
    if (own.qty !== undefined) positionQty = Math.abs(own.qty);
    else if (mark !== undefined && own.notionalUsd > 0) positionQty = own.notionalUsd / mark;
    else if (own.notionalUsd > 0) return undefined;
  }
  const qty = positionQty * closeFraction(plan.action);
  return { qty, notional: mark !== undefined && mark > 0 ? qty * mark : 0 };
}

/**
 * Upstream's fix #3 (857b05342 _acquire_exit_lock): a close of a symbol whose earlier close is
 * still in flight (quantum:exit:lock:{symbol} held by another plan) is a double close.
 */
export const exitLockBusy: Gate = (plan, _limits, snapshot) =>
  plan.isClose && snapshot.exitLockHolder !== null && snapshot.exitLockHolder !== plan.planId
    ? 'exit_lock_busy_double_close_prevention'
    : undefined;

export const positionFetchFailed: Gate = (plan, _limits, snapshot) =>
  productionSize(plan, snapshot) === undefined ? 'position_fetch_failed' : undefined;

/**
 * The day's total after this close (_check_daily_limit): notional when it is priced (> 0), the
 * quantity otherwise, added to quantum:governor:daily:{symbol}:{date} as the original does.
 */
export function dailyAfter(plan: PlanFacts, limits: Limits, snapshot: GovernorSnapshot): { total: number; limit: number } {
  const size = productionSize(plan, snapshot) ?? { qty: 0, notional: 0 };
  return size.notional > 0
    ? { total: snapshot.dailyTotal + size.notional, limit: limits.maxReduceNotionalPerDay }
    : { total: snapshot.dailyTotal + size.qty, limit: limits.maxReduceQtyPerDay };
}

/** Gate 4: the day's total after this plan `>` its limit. */
export const dailyLimitExceeded: Gate = (plan, limits, snapshot) => {
  const { total, limit } = dailyAfter(plan, limits, snapshot);
  return total > limit ? 'daily_limit_exceeded' : undefined;
};

/**
 * The gates of one APPLY_MODE path, in the original's order: `always` for every plan, then closes
 * (testnet's four) are permitted unless `closes` blocks, and anything else faces `opens`.
 * Gates added later (plan pricing and age checks) slot into these lists.
 */
export interface PathGates {
  readonly always: readonly Gate[];
  /** Whether a close skips `opens` (testnet's close bypass). */
  readonly closeBypass: boolean;
  readonly opens: readonly Gate[];
}

export const pathGates: Readonly<Record<ApplyMode, PathGates>> = {
  testnet: {
    always: [planTimeUntrusted, planTooOld, killSwitchActive],
    closeBypass: true,
    opens: [
      disarmed,
      redisMayEvict,
      symbolCooldown,
      positionsUnreadable,
      maxPositionsReached,
      openPriceUntrusted,
      openUnpriced,
      notionalPerTradeExceeded,
      positionPriceUnknown,
      totalNotionalExceeded,
    ],
  },
  // The production path has no close bypass: every plan faces every gate (the kill-score gate
  // exempts three closes itself).
  production: {
    always: [planTimeUntrusted, planTooOld, killSwitchActive, disarmed, redisMayEvict],
    closeBypass: false,
    opens: [
      p28BudgetViolation,
      killScoreCriticalNonClose,
      hourlyLimitExceeded,
      burstLimitExceeded,
      ownPositionUnreadable,
      positionFetchFailed,
      dailyLimitExceeded,
      exitLockBusy,
    ],
  },
  dry_run: {
    always: [planTimeUntrusted, planTooOld, killSwitchActive, disarmed, redisMayEvict],
    closeBypass: false,
    opens: [],
  },
};

function firstBlock(gates: readonly Gate[], plan: PlanFacts, limits: Limits, snapshot: GovernorSnapshot): GateReason | undefined {
  for (const gate of gates) {
    const reason = gate(plan, limits, snapshot);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** The path's gate chain: the first gate that blocks decides. */
export function evaluate(plan: PlanFacts, limits: Limits, snapshot: GovernorSnapshot): Verdict {
  const mode = limits.applyMode;
  const gates = pathGates[mode];
  const always = firstBlock(gates.always, plan, limits, snapshot);
  if (always) return { kind: 'block', reason: always };
  // testnet and dry_run permits carry computed_qty=0.0, computed_notional=0.0, as the original's.
  if (gates.closeBypass && plan.isClose) return { kind: 'permit', reason: 'close_bypass', computedQty: 0, computedNotional: 0 };
  const reason = firstBlock(gates.opens, plan, limits, snapshot);
  if (reason) return { kind: 'block', reason };
  if (mode === 'dry_run') return { kind: 'permit', reason: 'dry_run', computedQty: 0, computedNotional: 0 };
  if (mode === 'production') {
    const size = productionSize(plan, snapshot) ?? { qty: 0, notional: 0 };
    return { kind: 'permit', reason: 'all_gates_passed', computedQty: size.qty, computedNotional: size.notional };
  }
  return { kind: 'permit', reason: 'all_gates_passed', computedQty: 0, computedNotional: 0 };
}
