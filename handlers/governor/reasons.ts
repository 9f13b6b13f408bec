/**
 * Every reason the governor blocks a plan, in gate order. A closed set: the block key, the
 * events stream and the quantum_govern_block_total{reason} label only ever carry one of these.
 */
export const gateReasons = [
  'plan_too_old',
  'kill_switch_active',
  'disarmed',
  'kill_score_critical',
  'symbol_cooldown',
  'rate_limit_hour',
  'rate_limit_5min',
  'max_positions_reached',
  'notional_unknown',
  'notional_per_trade_exceeded',
  'total_notional_exceeded',
  'p28_budget_violation',
] as const;

export type GateReason = (typeof gateReasons)[number];

/** Written by the fail-closed fallback when evaluation itself failed after retries. */
export type BlockReason = GateReason | 'governor_error' | 'plan_id_reused';

/** Why a plan was let through. */
export type AllowReason = 'close_bypass' | 'all_gates_passed';

/** Plans acknowledged without a decision. */
export type SkipReason = 'not_execute' | 'already_permitted';

export type Verdict =
  | { readonly kind: 'permit'; readonly reason: AllowReason }
  | { readonly kind: 'block'; readonly reason: GateReason };
