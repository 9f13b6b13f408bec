import type { MetricFactory } from '../../runtime/contract/index.js';

/** The Python governor's five metrics (same names and labels), plus what the rewrite adds. */
export function governorMetrics(m: MetricFactory) {
  return {
    allow: m.counter({ name: 'quantum_govern_allow_total', help: 'Plans allowed', labelNames: ['symbol'] }),
    block: m.counter({ name: 'quantum_govern_block_total', help: 'Plans blocked', labelNames: ['symbol', 'reason'] }),
    disarm: m.counter({ name: 'quantum_govern_disarm_total', help: 'Auto-disarm events', labelNames: ['reason'] }),
    execHour: m.gauge({ name: 'quantum_govern_exec_count_hour', help: 'Executions in last hour', labelNames: ['symbol'] }),
    exec5Min: m.gauge({ name: 'quantum_govern_exec_count_5min', help: 'Executions in last 5min', labelNames: ['symbol'] }),
    skipped: m.counter({
      name: 'quantum_govern_skipped_total',
      help: 'Plans acknowledged without a decision (not_execute, already_permitted)',
      labelNames: ['reason'],
    }),
    errors: m.counter({
      name: 'quantum_govern_errors_total',
      help: 'Plans the governor failed to evaluate after retries (blocked as governor_error)',
    }),
    reservations: m.gauge({
      name: 'quantum_govern_reservations',
      help: 'Permitted opens counted as exposure until their position shows (at the last decision)',
    }),
    reservedNotional: m.gauge({
      name: 'quantum_govern_reserved_notional_usd',
      help: 'Notional of the outstanding reservations, USD (at the last decision)',
    }),
    reservationOldestAge: m.gauge({
      name: 'quantum_govern_reservation_oldest_age_seconds',
      help: 'Age of the oldest outstanding reservation at the last decision (0 when none)',
    }),
    quotesRefused: m.counter({
      name: 'quantum_govern_price_quotes_refused_total',
      help: "Price quotes a decision refused, its plan's symbol's and those its book's positions were priced at, by source and reason (future: stamped beyond PRICE_MAX_SKEW_SEC)",
      labelNames: ['source', 'reason'],
    }),
    figuresRefused: m.counter({
      name: 'quantum_govern_figures_refused_total',
      help: "Position figures a decision's book refused, by source (snapshot, p33) and reason (future: stamped beyond PRICE_MAX_SKEW_SEC; unparsable; unreadable): each makes its symbol's size unknown",
      labelNames: ['source', 'reason'],
    }),
    p28Shadow: m.counter({
      name: 'quantum_govern_p28_shadow_violation_total',
      help: 'Opens the P2.8 budget check would have blocked, counted while P28_MODE=shadow',
      labelNames: ['symbol'],
    }),
  };
}

export type GovernorMetrics = ReturnType<typeof governorMetrics>;

export function cooldownMetrics(m: MetricFactory) {
  return {
    expired: m.counter({
      name: 'quantum_govern_cooldown_expired_total',
      help: 'Symbol cooldowns that ended (event emitted)',
      labelNames: ['symbol'],
    }),
    superseded: m.counter({
      name: 'quantum_govern_cooldown_superseded_total',
      help: 'Cooldown jobs that fired while a newer cooldown of the symbol was running (no event)',
    }),
  };
}

export function switchMetrics(m: MetricFactory) {
  return {
    killSwitch: m.gauge({
      name: 'quantum_govern_kill_switch',
      help: 'quantum:kill as the governor reads it: 1 while it blocks every plan (on, or an unrecognised value), 0 when off',
    }),
    killSwitchUnrecognised: m.gauge({
      name: 'quantum_govern_kill_switch_unrecognised',
      help: '1 while quantum:kill holds a value that is neither clearly off nor on, or cannot be read (another type): the governor fails closed',
    }),
    disarmed: m.gauge({
      name: 'quantum_govern_disarmed',
      help: '1 while the governor is disarmed (opens blocked until the disarm key is deleted)',
    }),
  };
}

export function exitLockMetrics(m: MetricFactory) {
  return {
    released: m.counter({
      name: 'quantum_govern_exit_lock_released_total',
      help: 'Exit locks released by the fill of the close that held them (production path)',
    }),
    ignored: m.counter({
      name: 'quantum_govern_exit_lock_result_ignored_total',
      help: 'apply.result entries that released no exit lock, by reason (not_executed, not_holder, unreadable)',
      labelNames: ['reason'],
    }),
  };
}
