/**
 * Every reason the governor blocks a plan. A closed set: the block key, the events stream and
 * the quantum_govern_block_total{reason} label only ever carry one of these. The names are the
 * original's (8f5055c52 _block_plan calls) except those marked ours.
 */
export const gateReasons = [
  /** Ours (stricter, every path): a stale plan is refused. */
  'plan_too_old',
  /** Ours (every path): a timestamp ahead of our clock beyond GOV_PLAN_CLOCK_SKEW_SEC. */
  'plan_time_in_future',
  /** Ours (every path): a timestamp in no known unit (s, ms, µs, ns). */
  'plan_time_unknown_unit',
  /** testnet in the original; ours on every path. */
  'kill_switch_active',
  /** Ours: opens blocked after an auto-disarm, until quantum:governor:disarm is deleted. */
  'disarmed',
  /** Ours: opens blocked while Redis's maxmemory-policy is not noeviction, or cannot be read. */
  'redis_may_evict',
  // testnet
  'symbol_cooldown',
  'max_positions_reached',
  /** Ours (testnet opens): no positive quantity. */
  'plan_qty_invalid',
  /**
   * Ours (testnet opens): no mark price to price the open at, or one of its symbol's quotes or
   * figures refused, so what remains is not cross-checked (the event's refused_inputs names them).
   */
  'market_price_unknown',
  /** Ours (testnet opens): the plan's price is beyond GOV_PRICE_TOLERANCE_PCT of the mark. */
  'plan_price_mismatch',
  /** Ours (testnet opens): the plan's notional is beyond GOV_PRICE_TOLERANCE_PCT of qty × mark. */
  'plan_notional_mismatch',
  'notional_per_trade_exceeded',
  /** Ours (testnet opens, total cap on): an open position has no price anywhere, so the book's total is unknown. */
  'position_price_unknown',
  /**
   * Ours (testnet opens; production plans whose own position the reads did not find): a listing
   * read of the position book Redis refused (the event's unreadable_listings names the keys), so
   * positions may be missing from the book.
   */
  'positions_unreadable',
  'total_notional_exceeded',
  // production
  'p28_budget_violation',
  'kill_score_critical_non_close',
  'hourly_limit_exceeded',
  'burst_limit_exceeded',
  'position_fetch_failed',
  'daily_limit_exceeded',
  /** Upstream's name (857b05342): a second close of a symbol while the first is in flight. */
  'exit_lock_busy_double_close_prevention',
] as const;

export type GateReason = (typeof gateReasons)[number];

/** evaluation_error: evaluation itself failed after retries (the original's except branch). */
export type BlockReason = GateReason | 'evaluation_error' | 'plan_id_reused';

/** Why a plan was let through. */
export type AllowReason = 'close_bypass' | 'all_gates_passed' | 'dry_run';

/** A permit carries the computed size the original writes into it (0.0 and 0.0 but in production). */
export type Verdict =
  | { readonly kind: 'permit'; readonly reason: AllowReason; readonly computedQty: number; readonly computedNotional: number }
  | { readonly kind: 'block'; readonly reason: GateReason };
