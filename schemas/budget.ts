/**
 * What the P2.8 budget engine writes, as the original (ca9ec8239, compute_and_publish_budget and
 * check_budget_violation) wrote it. Writers build through these schemas and readers parse with
 * them, so a renamed field is a type error rather than a blank on the status page.
 */
import * as z from 'zod';
import { parsePyFloat, parsePyInt, pyFloatStr } from './python-number.js';
import { pyFloat, pyJsonDumps } from './python-json.js';

const pyFloatText = z.string().refine((s) => parsePyFloat(s) !== undefined, 'must be a number as Python writes a float');
const pyIntText = z.string().refine((s) => parsePyInt(s) !== undefined, 'must be an integer');

/** quantum:portfolio:budget:{symbol}: exactly these 10 fields, each as Python's str() wrote it. */
export const budgetHashSchema = z.strictObject({
  symbol: z.string(),
  budget_usd: pyFloatText,
  stress_factor: pyFloatText,
  equity_usd: pyFloatText,
  portfolio_heat: pyFloatText,
  cluster_stress: pyFloatText,
  vol_regime: pyFloatText,
  mode: z.string(),
  timestamp: pyIntText,
  base_risk_pct: pyFloatText,
});

export type BudgetHash = z.infer<typeof budgetHashSchema>;
export type BudgetHashField = keyof BudgetHash;

/** The values behind one budget hash, before they are written as text. */
export interface BudgetValues {
  readonly symbol: string;
  readonly budgetUsd: number;
  readonly stressFactor: number;
  readonly equityUsd: number;
  readonly portfolioHeat: number;
  readonly clusterStress: number;
  readonly volRegime: number;
  readonly mode: string;
  /** int(time.time()) when written. */
  readonly timestampSec: number;
  readonly baseRiskPct: number;
}

/** The hash's fields in the original's order, each a Python float's str() where it was a float. */
export function encodeBudgetHash(v: BudgetValues): BudgetHash {
  // Typed, not parsed: every field is built here from a number or the mode, so the schema could
  // only agree, and parsing 2,000 of them held the budget tick's thread (docs/performance.md).
  return {
    symbol: v.symbol,
    budget_usd: pyFloatStr(v.budgetUsd),
    stress_factor: pyFloatStr(v.stressFactor),
    equity_usd: pyFloatStr(v.equityUsd),
    portfolio_heat: pyFloatStr(v.portfolioHeat),
    cluster_stress: pyFloatStr(v.clusterStress),
    vol_regime: pyFloatStr(v.volRegime),
    mode: v.mode,
    timestamp: String(Math.floor(v.timestampSec)),
    base_risk_pct: pyFloatStr(v.baseRiskPct),
  } satisfies BudgetHash;
}

/**
 * A budget hash as read: any field may be missing or junk (an older writer, a hand edit). Readers
 * decide per field what the original did with it (float(decoded.get("budget_usd", MAX_BUDGET_K))).
 */
export const budgetHashReadSchema = z.object(
  Object.fromEntries(Object.keys(budgetHashSchema.shape).map((field) => [field, z.string().optional()])) as {
    [K in BudgetHashField]: z.ZodOptional<z.ZodString>;
  },
);

export type BudgetHashRead = z.infer<typeof budgetHashReadSchema>;

export function readBudgetHash(raw: Readonly<Record<string, string>>): BudgetHashRead {
  return budgetHashReadSchema.parse(raw);
}

/** The event check_budget_violation publishes, in its key order. */
export const budgetViolationEventSchema = z.strictObject({
  event_type: z.literal('budget.violation'),
  symbol: z.string(),
  position_notional: z.number(),
  budget_usd: z.number(),
  over_budget: z.number(),
  mode: z.string(),
  timestamp: z.number().int(),
});

export type BudgetViolationEvent = z.infer<typeof budgetViolationEventSchema>;

/** quantum:stream:budget.violation entries: one field, `json`. */
export const budgetViolationEntrySchema = z.object({ json: z.string() });
export type BudgetViolationEntry = z.infer<typeof budgetViolationEntrySchema>;

/** {"json": json.dumps(event)}: Python's separators, floats as floats, the timestamp an int. */
export function encodeBudgetViolationEntry(event: BudgetViolationEvent): BudgetViolationEntry {
  const e = budgetViolationEventSchema.parse(event);
  return budgetViolationEntrySchema.parse({
    json: pyJsonDumps({
      event_type: e.event_type,
      symbol: e.symbol,
      position_notional: pyFloat(e.position_notional),
      budget_usd: pyFloat(e.budget_usd),
      over_budget: pyFloat(e.over_budget),
      mode: e.mode,
      timestamp: e.timestamp,
    }),
  });
}

/**
 * A violation entry as read (the governor's check): the fields it uses, each possibly missing or of
 * another type, as json.loads would give them. Undefined when the entry has no parseable `json`.
 */
export const budgetViolationReadSchema = z.looseObject({
  symbol: z.unknown().optional(),
  timestamp: z.unknown().optional(),
  over_budget: z.unknown().optional(),
});

export type BudgetViolationRead = z.infer<typeof budgetViolationReadSchema>;

export function readBudgetViolationEntry(fields: Readonly<Record<string, string>>): BudgetViolationRead | undefined {
  const entry = budgetViolationEntrySchema.safeParse(fields);
  if (!entry.success) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(entry.data.json);
  } catch {
    return undefined;
  }
  const event = budgetViolationReadSchema.safeParse(parsed);
  return event.success ? event.data : undefined;
}
