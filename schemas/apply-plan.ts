import * as z from 'zod';
import { booleanField, idField, numericField } from './common.js';

/** Producers write optional fields as "" when they have no value: read that as absent, not as bad input. */
const blankIsAbsent = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (typeof value === 'string' && value.trim() === '' ? undefined : value), schema.optional());

/**
 * The plan's symbol as the original governor (P3.2 at 8f5055c52, `_evaluate_plan`) took it:
 * verbatim, any case, in its keys and records. A lower-case symbol is decided like any other (a
 * close is permitted; an open is priced under that name, and blocked `market_price_unknown` when
 * no producer writes a price for it) and leaves its line in the ledger; it is not dead-lettered.
 * Characters no exchange symbol has (`/`, `:`, spaces) still are.
 */
const planSymbolSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$/, 'must be an exchange symbol such as BTCUSDT');

/**
 * An entry of quantum:stream:apply.plan as the Apply Layer writes it. Only plan_id and symbol are
 * required to decide; a plan without them is dead-lettered. Other fields are kept.
 */
export const applyPlanSchema = z.looseObject({
  plan_id: idField,
  symbol: planSymbolSchema,
  action: z.string().trim().max(64).default('UNKNOWN'),
  decision: z.string().trim().max(64).optional(),
  kill_score: blankIsAbsent(numericField),
  side: z.string().trim().max(16).optional(),
  /** Signed as the producer wrote it: the governor prices abs(qty) × mark, as the original did. */
  qty: blankIsAbsent(numericField),
  reduceOnly: blankIsAbsent(booleanField),
  price: blankIsAbsent(numericField.refine((v) => v >= 0, 'must not be negative')),
  notional: blankIsAbsent(numericField.refine((v) => v >= 0, 'must not be negative')),
  /** When the plan was made (epoch seconds or ms); the stream entry's time is used when absent. */
  timestamp: blankIsAbsent(numericField),
});

export type ApplyPlan = z.infer<typeof applyPlanSchema>;
