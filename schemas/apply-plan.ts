import * as z from 'zod';
import { booleanField, idField, numericField, symbolSchema } from './common.js';

/** Producers write optional fields as "" when they have no value: read that as absent, not as bad input. */
const blankIsAbsent = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (typeof value === 'string' && value.trim() === '' ? undefined : value), schema.optional());

/**
 * An entry of quantum:stream:apply.plan as the Apply Layer writes it. Only plan_id and symbol are
 * required to decide; a plan without them is dead-lettered. Other fields are kept.
 */
export const applyPlanSchema = z.looseObject({
  plan_id: idField,
  symbol: symbolSchema,
  action: z.string().trim().max(64).default('UNKNOWN'),
  decision: z.string().trim().max(64).optional(),
  kill_score: blankIsAbsent(numericField),
  side: z.string().trim().max(16).optional(),
  qty: blankIsAbsent(numericField.refine((v) => v >= 0, 'must not be negative')),
  reduceOnly: blankIsAbsent(booleanField),
  price: blankIsAbsent(numericField.refine((v) => v >= 0, 'must not be negative')),
  notional: blankIsAbsent(numericField.refine((v) => v >= 0, 'must not be negative')),
  /** When the plan was made (epoch seconds or ms); the stream entry's time is used when absent. */
  timestamp: blankIsAbsent(numericField),
});

export type ApplyPlan = z.infer<typeof applyPlanSchema>;
