import type { BudgetHashField } from '../../schemas/budget.js';
import type { RedisReader } from '../../runtime/redis-reader.js';
import { killSwitchBlocks } from '../../domain/kill-switch.js';
import { keys, streams } from '../../schemas/keys.js';
import { freshBudget, hasRecentViolation, parseBudget, type Budget } from './budget.js';
import type { GovernorConfig } from './config.js';
import { parseNumber, usd } from './numbers.js';
import { withDirect, type Position, type PositionSource } from './positions.js';

export const HOUR_MS = 3_600_000;
export const FIVE_MIN_MS = 300_000;

/** The cooldown key's value: which permit started it and when it ends. */
export interface Cooldown {
  readonly planId: string | undefined;
  readonly untilMs: number | undefined;
}

/** Everything the gates compare a plan against, read at one moment. */
export interface GovernorSnapshot {
  readonly now: number;
  readonly killSwitch: boolean;
  readonly disarmed: boolean;
  readonly cooldown: Cooldown | undefined;
  /** Permits on this symbol in the last hour / 5 minutes (the window start excluded). */
  readonly execLastHour: number;
  readonly execLast5Min: number;
  readonly openPositions: number;
  /** Σ|notional| over open positions, before this plan. */
  readonly totalNotional: number;
  /** |notional| of this symbol's own position. */
  readonly symbolNotional: number;
  readonly markPrice: number | undefined;
  /** The P2.8 budget when present and fresh; undefined fails open. */
  readonly budget: Budget | undefined;
  readonly recentViolation: boolean;
}

/** What the handler needs besides the snapshot: idempotency, the race guard, auto-disarm. */
export interface Coordination {
  /** A permit or block already recorded for this plan_id. */
  /**
   * Set when the plan_id was permitted before: the plan's fingerprint then (null for a permit
   * written without one, by an earlier version). A blocked plan_id is not remembered: it may be
   * evaluated again, as the original does, until it is permitted once.
   */
  readonly permitted: { readonly fingerprint: string | null } | undefined;
  /** The symbol's permit sequence number (null when no permit was ever recorded). */
  readonly version: string | null;
  /** Governor errors within GOV_DISARM_WINDOW_SEC. */
  readonly recentErrors: number;
}

/**
 * What every plan of a batch reads alike (no plan changes it before the batch commits): read
 * once per batch, not once per plan.
 */
export interface SharedState {
  readonly kill: string | null;
  readonly disarm: string | null;
  /** Governor errors within GOV_DISARM_WINDOW_SEC of the batch's start. */
  readonly recentErrors: number;
  readonly positions: readonly Position[];
  /** budget.violation entries since the start of the window (each plan filters by its own clock). */
  readonly violations: readonly [id: string, fields: string[]][];
}

export async function loadShared(redis: RedisReader, config: GovernorConfig, positionSource: PositionSource, now: number): Promise<SharedState> {
  const [kill, disarm, recentErrors, positions, violations] = await Promise.all([
    redis.get(keys.killSwitch),
    redis.get(keys.governorDisarm),
    redis.zcount(keys.governorErrors, `(${now - config.GOV_DISARM_WINDOW_SEC * 1000}`, '+inf'),
    positionSource.load(redis, now, config),
    redis.xrevrange(streams.budgetViolation, '+', `${Math.max(0, now - config.GOV_P28_VIOLATION_WINDOW_SEC * 1000)}-0`, 'COUNT', 1000),
  ]);
  return { kill, disarm, recentErrors, positions, violations };
}

/** The plan's own reads, all issued at once so the auto-pipelined client sends them together. */
export async function loadSnapshot(
  redis: RedisReader,
  shared: SharedState,
  symbol: string,
  planId: string,
  config: GovernorConfig,
  now: number,
  positionSource?: PositionSource,
): Promise<{ snapshot: GovernorSnapshot; coordination: Coordination }> {
  const execKey = keys.governorExecutions(symbol);
  const [decided, cooldownRaw, version, execLastHour, execLast5Min, marketMark, budgetFields, direct] = await Promise.all([
    Promise.all([redis.get(keys.permit(planId)), redis.get(keys.governorPermitted(planId))]),
    redis.get(keys.governorCooldown(symbol)),
    redis.get(keys.governorSymbolVersion(symbol)),
    redis.zcount(execKey, `(${now - HOUR_MS}`, '+inf'),
    redis.zcount(execKey, `(${now - FIVE_MIN_MS}`, '+inf'),
    redis.hget(keys.marketState(symbol), 'mark_price'),
    redis.hmget(keys.budget(symbol), ...(['budget_usd', 'timestamp'] as const satisfies readonly BudgetHashField[])),
    // The plan's own symbol is never left to the book's index refresh bound.
    positionSource?.loadSymbol?.(redis, symbol),
  ]);
  const { kill, disarm, recentErrors, violations } = shared;
  const positions = withDirect(shared.positions, direct);

  const own = positions.find((p) => p.symbol === symbol);
  const snapshot: GovernorSnapshot = {
    now,
    killSwitch: killSwitchBlocks(kill),
    disarmed: disarm !== null,
    cooldown: cooldownRaw === null ? undefined : parseCooldown(cooldownRaw),
    execLastHour,
    execLast5Min,
    openPositions: positions.length,
    totalNotional: usd(positions.reduce((sum, p) => sum + p.notionalUsd, 0)),
    symbolNotional: own?.notionalUsd ?? 0,
    markPrice: positivePrice(parseNumber(marketMark)) ?? positivePrice(own?.markPrice),
    budget: freshBudget(parseBudget(budgetFields[0] ?? null, budgetFields[1] ?? null), now, config.GOV_P28_BUDGET_MAX_AGE_SEC),
    recentViolation: hasRecentViolation(violations, symbol, now, config.GOV_P28_VIOLATION_WINDOW_SEC),
  };
  const coordination: Coordination = {
    permitted: decided[1] !== null && decided[1] !== undefined ? { fingerprint: decided[1] } : decided[0] !== null && decided[0] !== undefined ? { fingerprint: null } : undefined,
    version,
    recentErrors,
  };
  return { snapshot, coordination };
}


function positivePrice(price: number | undefined): number | undefined {
  return price !== undefined && price > 0 ? price : undefined;
}

export function parseCooldown(raw: string): Cooldown {
  try {
    const value = JSON.parse(raw) as { plan_id?: unknown; until?: unknown };
    return {
      planId: typeof value.plan_id === 'string' ? value.plan_id : undefined,
      untilMs: typeof value.until === 'number' ? value.until : undefined,
    };
  } catch {
    // Someone set the key by hand: still a cooldown, just without details.
    return { planId: undefined, untilMs: undefined };
  }
}
