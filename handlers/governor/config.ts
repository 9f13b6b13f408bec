import { z } from 'zod';
import { envBool, envInt, envMode, envNumber, parseEnv } from '../../runtime/env.js';
import { streams } from '../../schemas/keys.js';
import { positionBookEnvShape } from '../positions/book.js';

const nonNegative = (n: number) => envNumber(n).refine((v) => v >= 0, 'must not be negative');

/**
 * The governor's environment: the Python service's variable names and defaults. For every cap,
 * 0 disables it.
 */
export const governorEnvSchema = z.object({
  /** The original service's names for its input and audit streams. */
  STREAM_PLANS: z.string().min(1).default(streams.applyPlan),
  STREAM_EVENTS: z.string().min(1).default(streams.governorEvents),
  GOV_GROUP: z.string().min(1).default('governor'),

  /** A plan older than this is never permitted (a replayed backlog must not trade). */
  GOV_MAX_PLAN_AGE_SEC: nonNegative(300),
  GOV_KILL_SCORE_CRITICAL: nonNegative(0.8),
  GOV_SYMBOL_COOLDOWN_SECONDS: envInt(60, 0),
  GOV_MAX_EXEC_PER_HOUR: envInt(3, 0),
  GOV_MAX_EXEC_PER_5MIN: envInt(2, 0),
  GOV_MAX_OPEN_POSITIONS: envInt(10, 0),
  GOV_MAX_NOTIONAL_PER_TRADE_USDT: nonNegative(200),
  GOV_MAX_TOTAL_NOTIONAL_USDT: nonNegative(2000),

  GOV_PERMIT_TTL_SEC: envInt(60, 1),
  GOV_BLOCK_TTL_SEC: envInt(3600, 1),
  /** How long a permitted plan_id is remembered, so a redelivery never yields a second permit. */
  GOV_PERMIT_MEMORY_SEC: envInt(86_400, 60),

  GOV_ENABLE_AUTO_DISARM: envBool(true),
  GOV_DISARM_ON_ERROR_COUNT: envInt(5, 1),
  GOV_DISARM_WINDOW_SEC: envInt(300, 1),

  /** shadow: the P2.8 budget verdict is only counted and logged; enforce: it blocks opens. */
  P28_MODE: envMode('shadow'),
  /** A budget hash older than this is ignored (fail-open). */
  GOV_P28_BUDGET_MAX_AGE_SEC: envInt(60, 1),
  /** A budget.violation entry for the symbol younger than this blocks (enforce mode). */
  GOV_P28_VIOLATION_WINDOW_SEC: envInt(30, 1),
  ...positionBookEnvShape,
});

export type GovernorConfig = z.infer<typeof governorEnvSchema>;

export const parseGovernorConfig = (env: Readonly<Record<string, string | undefined>>): GovernorConfig => parseEnv(governorEnvSchema, env);

/** What the gates compare against; 0 disables a cap. */
export interface Limits {
  readonly maxPlanAgeSec: number;
  readonly killScoreCritical: number;
  readonly cooldownSec: number;
  readonly maxExecPerHour: number;
  readonly maxExecPer5Min: number;
  readonly maxOpenPositions: number;
  readonly maxNotionalPerTrade: number;
  readonly maxTotalNotional: number;
  readonly p28Mode: 'shadow' | 'enforce';
  readonly p28BudgetMaxAgeSec: number;
  readonly p28ViolationWindowSec: number;
}

export function limitsOf(config: GovernorConfig): Limits {
  return {
    maxPlanAgeSec: config.GOV_MAX_PLAN_AGE_SEC,
    killScoreCritical: config.GOV_KILL_SCORE_CRITICAL,
    cooldownSec: config.GOV_SYMBOL_COOLDOWN_SECONDS,
    maxExecPerHour: config.GOV_MAX_EXEC_PER_HOUR,
    maxExecPer5Min: config.GOV_MAX_EXEC_PER_5MIN,
    maxOpenPositions: config.GOV_MAX_OPEN_POSITIONS,
    maxNotionalPerTrade: config.GOV_MAX_NOTIONAL_PER_TRADE_USDT,
    maxTotalNotional: config.GOV_MAX_TOTAL_NOTIONAL_USDT,
    p28Mode: config.P28_MODE,
    p28BudgetMaxAgeSec: config.GOV_P28_BUDGET_MAX_AGE_SEC,
    p28ViolationWindowSec: config.GOV_P28_VIOLATION_WINDOW_SEC,
  };
}
