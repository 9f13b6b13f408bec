import { z } from 'zod';
import { booleanField, idField, numericField, symbolSchema } from './common.js';

/**
 * An entry of quantum:stream:apply.plan as the Apply Layer writes it. Only plan_id and symbol are
 * required to decide; a plan without them is dead-lettered. Other fields are kept.
 */
export const applyPlanSchema = z.looseObject({
  plan_id: idField,
  symbol: symbolSchema,
  action: z.string().trim().max(64).default('UNKNOWN'),
  decision: z.string().trim().max(64).optional(),
  kill_score: numericField.optional(),
  side: z.string().trim().max(16).optional(),
  qty: numericField.refine((v) => v >= 0, 'must not be negative').optional(),
  reduceOnly: booleanField.optional(),
  price: numericField.refine((v) => v >= 0, 'must not be negative').optional(),
  notional: numericField.refine((v) => v >= 0, 'must not be negative').optional(),
  /** When the plan was made (epoch seconds or ms); the stream entry's time is used when absent. */
  timestamp: numericField.optional(),
});

export type ApplyPlan = z.infer<typeof applyPlanSchema>;
