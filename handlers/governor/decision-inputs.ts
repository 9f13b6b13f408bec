import type { PlanFacts } from './plan.js';
import type { GovernorSnapshot } from './snapshot.js';

/**
 * Everything the governor's pure rules (gates.ts `evaluate`) read for one decision, recorded in
 * the decision's own event (`decision_inputs`, JSON) so that `report calibrate` can decide the
 * same plan again under other limits with the very same functions, and never guess a book total,
 * a reservation or a last execution (issue #26 items 3 and 4).
 *
 * Recorded: the plan's facts whole, and of the snapshot the figures a gate compares (the
 * execution history as its two counts, the symbol's own position as qty and notional). Left out:
 * what no gate reads (the history's times, the daily key's name, reservation counts that only
 * the metrics show).
 */

/** The wire form: short names, one JSON object, numbers as JSON numbers (exact round trip). */
interface Wire {
  readonly v: 1;
  readonly facts: PlanFacts;
  readonly snap: {
    readonly now: number;
    readonly kill: boolean;
    readonly disarmed: boolean;
    /** Redis's maxmemory-policy while it was not noeviction; absent on noeviction and in events recorded before it. */
    readonly may_evict?: string;
    readonly disarmed_today: boolean;
    readonly last_exec_sec: number | null;
    readonly exec_hour: number;
    readonly exec_5min: number;
    readonly open_positions: number;
    readonly total_notional: number;
    /** Absent in events recorded before it (none unpriced then). */
    readonly unpriced?: readonly string[];
    /** The keys of the book's listing reads Redis refused; absent when none (and in events recorded before it). */
    readonly unreadable?: readonly string[];
    /** The plan's own symbol's refused quotes and figures (`source:reason`); absent when none (and in events recorded before it). */
    readonly refused?: readonly string[];
    readonly reservations: number;
    readonly reserved_positions: number;
    readonly reserved_notional: number;
    readonly exit_lock: string | null;
    readonly symbol_notional: number;
    readonly own: { readonly qty: number | null; readonly notional: number; readonly mark: number | null } | null;
    readonly mark: number | null;
    readonly budget: { readonly usd: number; readonly mode: string; readonly at: number | null } | null;
    readonly violation: boolean;
    readonly daily_total: number;
  };
}

export function encodeDecisionInputs(facts: PlanFacts, s: GovernorSnapshot): string {
  const own = s.ownPosition;
  const wire: Wire = {
    v: 1,
    facts,
    snap: {
      now: s.now,
      kill: s.killSwitch,
      disarmed: s.disarmed,
      ...(s.redisMayEvict === undefined ? {} : { may_evict: s.redisMayEvict }),
      disarmed_today: s.disarmedToday,
      last_exec_sec: s.lastExecSec ?? null,
      exec_hour: s.execLastHour,
      exec_5min: s.execLast5Min,
      open_positions: s.openPositions,
      total_notional: s.totalNotional,
      ...(s.unpricedPositions?.length ? { unpriced: s.unpricedPositions } : {}),
      ...(s.unreadableListings?.length ? { unreadable: s.unreadableListings } : {}),
      ...(s.refusedInputs?.length ? { refused: s.refusedInputs } : {}),
      reservations: s.reservations,
      reserved_positions: s.reservedPositions,
      reserved_notional: s.reservedNotional,
      exit_lock: s.exitLockHolder,
      symbol_notional: s.symbolNotional,
      own: own === undefined ? null : { qty: own.qty ?? null, notional: own.notionalUsd, mark: own.markPrice ?? null },
      mark: s.markPrice ?? null,
      budget: s.budget === undefined ? null : { usd: s.budget.budgetUsd, mode: s.budget.mode, at: s.budget.updatedAtMs ?? null },
      violation: s.recentViolation,
      daily_total: s.dailyTotal,
    },
  };
  return JSON.stringify(wire);
}

export interface DecisionInputs {
  readonly facts: PlanFacts;
  readonly snapshot: GovernorSnapshot;
}

const orUndefined = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

/** The recorded inputs as the rules take them; undefined for a field that is absent or not ours. */
export function decodeDecisionInputs(text: string | undefined, symbol: string): DecisionInputs | undefined {
  if (text === undefined || text === '') return undefined;
  let wire: Wire;
  try {
    wire = JSON.parse(text) as Wire;
  } catch {
    return undefined;
  }
  if (typeof wire !== 'object' || wire === null || wire.v !== 1 || typeof wire.facts !== 'object' || typeof wire.snap !== 'object')
    return undefined;
  const s = wire.snap;
  const snapshot: GovernorSnapshot = {
    now: s.now,
    killSwitch: s.kill,
    disarmed: s.disarmed,
    ...(s.may_evict === undefined ? {} : { redisMayEvict: s.may_evict }),
    disarmedToday: s.disarmed_today,
    lastExecSec: orUndefined(s.last_exec_sec),
    // The gates read the two counts only; the times stay in Redis.
    execHistory: { type: 'list', times: [] },
    execLastHour: s.exec_hour,
    execLast5Min: s.exec_5min,
    openPositions: s.open_positions,
    totalNotional: s.total_notional,
    unpricedPositions: s.unpriced ?? [],
    unreadableListings: s.unreadable ?? [],
    ...(s.refused === undefined ? {} : { refusedInputs: s.refused }),
    reservations: s.reservations,
    reservedPositions: s.reserved_positions,
    reservedNotional: s.reserved_notional,
    oldestReservationAt: undefined,
    exitLockHolder: s.exit_lock,
    symbolNotional: s.symbol_notional,
    ownPosition:
      s.own === null ? undefined : { symbol, qty: orUndefined(s.own.qty), notionalUsd: s.own.notional, markPrice: orUndefined(s.own.mark) },
    markPrice: orUndefined(s.mark),
    budget: s.budget === null ? undefined : { budgetUsd: s.budget.usd, mode: s.budget.mode, updatedAtMs: orUndefined(s.budget.at) },
    recentViolation: s.violation,
    dailyTotal: s.daily_total,
    dailyKey: '',
  };
  return { facts: wire.facts, snapshot };
}
