import * as z from 'zod';
import { positionBookEnvShape } from '../positions/book.js';
import { envBool, envInt, envMode, envNumber, parseEnv } from '../../schemas/env.js';

const weight = (defaultValue: number) => envNumber(defaultValue).refine((v) => v >= 0, 'must not be negative');

/** The Python service's variables, names and defaults unchanged (seeds 002, 003). */
export const riskBudgetEnvSchema = z
  .object({
    P28_MODE: envMode('shadow'),
    BASE_RISK_PCT: envNumber(0.02).refine((v) => v > 0 && v <= 1, 'must be in (0, 1]'),
    ALPHA_HEAT: weight(0.4),
    BETA_CLUSTER: weight(0.4),
    GAMMA_VOL: weight(0.2),
    /** USD despite the K: the original's names. */
    MIN_BUDGET_K: envNumber(500).refine((v) => v >= 0, 'must not be negative'),
    MAX_BUDGET_K: envNumber(10_000).refine((v) => v > 0, 'must be positive'),
    STALE_SEC: envInt(30, 1),
    MAX_LKG_AGE_SEC: envInt(900, 1),
    BUDGET_HASH_TTL_SEC: envInt(300, 1),
    BUDGET_COMPUTE_INTERVAL_SEC: envInt(10, 1),
    /** Split deployment: read heat from the heat gate's /metrics instead of computing it here. */
    HEAT_GATE_METRICS_URL: z
      .string()
      .regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL')
      .optional(),
    P28_TEST_MODE: envBool(false),
    ...positionBookEnvShape,
  })
  .refine((c) => c.MIN_BUDGET_K <= c.MAX_BUDGET_K, { message: 'must not be below MIN_BUDGET_K', path: ['MAX_BUDGET_K'] });

export type RiskBudgetConfig = z.infer<typeof riskBudgetEnvSchema>;

export const parseRiskBudgetConfig = (env: Readonly<Record<string, string | undefined>>): RiskBudgetConfig =>
  // The refinement types the schema as a pipe; parseEnv only needs its object shape.
  parseEnv(riskBudgetEnvSchema as unknown as z.ZodObject, env) as RiskBudgetConfig;
