import * as z from 'zod';
import { envBool, envChoice, envInt, envNumber, parseEnv } from '../../schemas/env.js';
import { BLOCK_TTL_SEC, PERMIT_TTL_SEC } from '../../schemas/governor-records.js';
import { streams } from '../../schemas/keys.js';
import { positionBookEnvShape } from '../positions/book.js';

const nonNegative = (n: number) => envNumber(n).refine((v) => v >= 0, 'must not be negative');

/**
 * The original's three paths, by the values it compared (8f5055c52 microservices/governor/main.py:
 * line 259 `os.getenv('APPLY_MODE', 'testnet')`, line 275 `== 'testnet'`, line 368 `== 'dry_run'`;
 * every other value fell through to the production path, which has no fund caps). Ours: exactly
 * these, `production` named; any other value stops the start (docs/migration.md).
 */
export const applyModes = ['testnet', 'production', 'dry_run'] as const;
export type ApplyMode = (typeof applyModes)[number];

/**
 * The governor's environment: the Python service's variable names and defaults. For every cap,
 * 0 disables it.
 */
export const governorEnvSchema = z.object({
  /** Which of the original's paths decides: testnet (default), production or dry_run, exactly. */
  APPLY_MODE: envChoice(applyModes, 'testnet'),
  /** The original service's names for its input and audit streams. */
  STREAM_PLANS: z.string().min(1).default(streams.applyPlan),
  STREAM_EVENTS: z.string().min(1).default(streams.governorEvents),
  GOV_GROUP: z.string().min(1).default('governor'),
  /** The Apply Layer's results, read by governor-exit-locks to release a close's exit lock at its fill (upstream's STREAM_RESULTS). */
  STREAM_RESULTS: z.string().min(1).default(streams.applyResult),

  /** A plan older than this is never permitted (a replayed backlog must not trade). Ours. */
  GOV_MAX_PLAN_AGE_SEC: nonNegative(300),
  /** A plan's timestamp may run this far ahead of our clock before it counts as a lie. Ours. */
  GOV_PLAN_CLOCK_SKEW_SEC: nonNegative(5),
  /** How far (percent) a plan's own price or notional may be from the market's before the open is blocked. Ours. */
  GOV_PRICE_TOLERANCE_PCT: nonNegative(5),
  /** production: a plan at or over this kill score is blocked unless it closes. */
  GOV_KILL_SCORE_CRITICAL: nonNegative(0.8),
  /** testnet: seconds between executions of a symbol. */
  GOV_SYMBOL_COOLDOWN_SECONDS: envInt(60, 0),
  /** production: executions per symbol per hour / 5 minutes. */
  GOV_MAX_EXEC_PER_HOUR: envInt(3, 0),
  GOV_MAX_EXEC_PER_5MIN: envInt(2, 0),
  /** production: the daily limits (notional when the close can be priced, quantity otherwise). */
  GOV_MAX_REDUCE_NOTIONAL_PER_DAY_USD: nonNegative(5000),
  GOV_MAX_REDUCE_QTY_PER_DAY: nonNegative(0.02),
  /** testnet: the fund caps. */
  GOV_MAX_OPEN_POSITIONS: envInt(10, 0),
  GOV_MAX_NOTIONAL_PER_TRADE_USDT: nonNegative(200),
  GOV_MAX_TOTAL_NOTIONAL_USDT: nonNegative(2000),
  /**
   * testnet, stricter than the original (off by default): the total cap also blocks an open that
   * would take the book over the cap. The original blocks only when the book alone is at the cap.
   */
  GOV_TOTAL_NOTIONAL_COUNTS_TRADE: envBool(false),

  GOV_PERMIT_TTL_SEC: envInt(PERMIT_TTL_SEC, 1),
  /**
   * How long a permitted open counts as exposure when its position never shows (docs/governor.md
   * "Reservations"): the permit lives GOV_PERMIT_TTL_SEC (60), the Apply Layer waits at most
   * APPLY_PERMIT_WAIT_MS (1.2 s) for it, so no order can start later than 61 s after the permit;
   * the other 59 s cover the fill reaching P3.3 and the position index (5 s) with room to spare.
   */
  GOV_RESERVATION_TIMEOUT_SEC: envInt(120, 1),
  /** production: how long a close's per-symbol exit lock holds when no fill releases it (upstream's 857b05342). */
  GOV_EXIT_LOCK_TTL_SEC: envInt(120, 1),
  GOV_BLOCK_TTL_SEC: envInt(BLOCK_TTL_SEC, 1),
  /** How long a permitted plan_id is remembered, so a redelivery never yields a second permit. */
  GOV_PERMIT_MEMORY_SEC: envInt(86_400, 60),

  GOV_ENABLE_AUTO_DISARM: envBool(true),
  GOV_DISARM_ON_ERROR_COUNT: envInt(5, 1),
  /** production: a burst-limit block also disarms. */
  GOV_DISARM_ON_BURST_BREACH: envBool(true),
  /**
   * Errors counted for auto-disarm are those of the last this-many seconds (a burst of errors, not
   * a slow trickle); 0 counts every error since the last disarm. docs/migration.md argues 300.
   */
  GOV_DISARM_WINDOW_SEC: envInt(300, 0),

  /** A budget hash older than this is ignored (fail-open); the original's 60 s. */
  GOV_P28_BUDGET_MAX_AGE_SEC: envInt(60, 1),
  /** A budget.violation entry for the symbol younger than this blocks (budget mode enforce); the original's 30 s. */
  GOV_P28_VIOLATION_WINDOW_SEC: envInt(30, 1),
  /**
   * Stricter than the original (off by default): with a fresh enforce-mode budget, an open whose
   * symbol notional plus trade exceeds budget_usd is blocked too, not only one with a recent
   * violation entry.
   */
  GOV_P28_BLOCK_OVER_BUDGET: envBool(false),
  ...positionBookEnvShape,
});

export type GovernorConfig = z.infer<typeof governorEnvSchema>;

export const parseGovernorConfig = (env: Readonly<Record<string, string | undefined>>): GovernorConfig => parseEnv(governorEnvSchema, env);

/** What the gates compare against; 0 disables a cap. */
export interface Limits {
  readonly applyMode: ApplyMode;
  readonly maxPlanAgeSec: number;
  readonly planClockSkewSec: number;
  readonly priceTolerancePct: number;
  readonly killScoreCritical: number;
  readonly cooldownSec: number;
  readonly maxExecPerHour: number;
  readonly maxExecPer5Min: number;
  readonly maxReduceNotionalPerDay: number;
  readonly maxReduceQtyPerDay: number;
  readonly maxOpenPositions: number;
  readonly maxNotionalPerTrade: number;
  readonly maxTotalNotional: number;
  readonly totalCountsTrade: boolean;
  readonly p28BlockOverBudget: boolean;
}

export function limitsOf(config: GovernorConfig): Limits {
  return {
    applyMode: config.APPLY_MODE,
    maxPlanAgeSec: config.GOV_MAX_PLAN_AGE_SEC,
    planClockSkewSec: config.GOV_PLAN_CLOCK_SKEW_SEC,
    priceTolerancePct: config.GOV_PRICE_TOLERANCE_PCT,
    killScoreCritical: config.GOV_KILL_SCORE_CRITICAL,
    cooldownSec: config.GOV_SYMBOL_COOLDOWN_SECONDS,
    maxExecPerHour: config.GOV_MAX_EXEC_PER_HOUR,
    maxExecPer5Min: config.GOV_MAX_EXEC_PER_5MIN,
    maxReduceNotionalPerDay: config.GOV_MAX_REDUCE_NOTIONAL_PER_DAY_USD,
    maxReduceQtyPerDay: config.GOV_MAX_REDUCE_QTY_PER_DAY,
    maxOpenPositions: config.GOV_MAX_OPEN_POSITIONS,
    maxNotionalPerTrade: config.GOV_MAX_NOTIONAL_PER_TRADE_USDT,
    maxTotalNotional: config.GOV_MAX_TOTAL_NOTIONAL_USDT,
    totalCountsTrade: config.GOV_TOTAL_NOTIONAL_COUNTS_TRADE,
    p28BlockOverBudget: config.GOV_P28_BLOCK_OVER_BUDGET,
  };
}

/** A cap as the start line shows it: 0 disables. */
const cap = (value: number, shown: string) => (value > 0 ? shown : 'off');

/** The start line: which path APPLY_MODE took and the caps that path applies (none silent). */
export function pathLine(config: GovernorConfig): string {
  const l = limitsOf(config);
  switch (l.applyMode) {
    case 'testnet':
      return (
        `APPLY_MODE=testnet: the testnet path, with fund caps: open positions ${cap(l.maxOpenPositions, String(l.maxOpenPositions))}, ` +
        `per trade ${cap(l.maxNotionalPerTrade, `$${l.maxNotionalPerTrade}`)}, ` +
        `total ${cap(l.maxTotalNotional, `$${l.maxTotalNotional}`)}${l.totalCountsTrade ? ' (the trade counted)' : ''}, ` +
        `symbol cooldown ${cap(l.cooldownSec, `${l.cooldownSec} s`)}; the four closes bypass them`
      );
    case 'production':
      return (
        `APPLY_MODE=production: the production path, with no fund caps (open positions, per trade, total): ` +
        `executions per symbol ${cap(l.maxExecPerHour, `${l.maxExecPerHour}/h`)} and ${cap(l.maxExecPer5Min, `${l.maxExecPer5Min}/5 min`)}, ` +
        `closed per symbol and day ${cap(l.maxReduceNotionalPerDay, `$${l.maxReduceNotionalPerDay}`)} (unpriced: ` +
        `${cap(l.maxReduceQtyPerDay, String(l.maxReduceQtyPerDay))} qty), kill score ${cap(l.killScoreCritical, String(l.killScoreCritical))}, ` +
        `the P2.8 budget when it enforces, exit locks ${config.GOV_EXIT_LOCK_TTL_SEC} s`
      );
    case 'dry_run':
      return 'APPLY_MODE=dry_run: the dry_run path: every plan past the plan-time, kill switch and disarm checks is permitted, with no caps';
  }
}
