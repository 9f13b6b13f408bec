import * as z from 'zod';

/**
 * An entry of quantum:stream:gates.outcome: one followed decision marked to market at one
 * horizon. A stream of our own (the Python services had none). Writers encode through
 * encodeOutcome, readers parse with outcomeEntrySchema, so a renamed field is a type error.
 */
export interface Outcome {
  /** heat:{entry id} or gov:{entry id}: the followed decision. */
  readonly decision_id: string;
  readonly kind: string;
  readonly symbol: string;
  readonly plan_id: string;
  readonly bucket: string;
  readonly mode: string;
  readonly proposed_action: string;
  readonly decided_action: string;
  readonly horizon: string;
  readonly horizon_sec: number;
  /** ms since the epoch. */
  readonly decided_at: number;
  readonly sampled_at: number;
  /** Signed exposure the decision kept open (or kept out), USD. */
  readonly exposure_usd: number;
  readonly entry_price: number;
  /** undefined: no price could be read at the sample (recorded as missing, never as zero). */
  readonly price: number | undefined;
  readonly pnl_usd: number | undefined;
  /** The worst counterfactual PnL over this decision's samples so far. */
  readonly worst_pnl_usd: number | undefined;
}

export function encodeOutcome(outcome: Outcome): Record<string, string> {
  return {
    decision_id: outcome.decision_id,
    kind: outcome.kind,
    symbol: outcome.symbol,
    plan_id: outcome.plan_id,
    bucket: outcome.bucket,
    mode: outcome.mode,
    proposed_action: outcome.proposed_action,
    decided_action: outcome.decided_action,
    horizon: outcome.horizon,
    horizon_sec: String(outcome.horizon_sec),
    decided_at: String(outcome.decided_at),
    sampled_at: String(outcome.sampled_at),
    exposure_usd: String(outcome.exposure_usd),
    entry_price: String(outcome.entry_price),
    price: outcome.price === undefined ? '' : String(outcome.price),
    price_missing: outcome.price === undefined ? '1' : '0',
    pnl_usd: outcome.pnl_usd === undefined ? '' : String(outcome.pnl_usd),
    worst_pnl_usd: outcome.worst_pnl_usd === undefined ? '' : String(outcome.worst_pnl_usd),
  };
}

const number = z.string().trim().min(1).transform(Number).pipe(z.number().finite());
const optionalNumber = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) {
      ctx.addIssue({ code: 'custom', message: 'must be a finite number or empty' });
      return z.NEVER;
    }
    return n;
  });

export const outcomeEntrySchema = z
  .looseObject({
    decision_id: z.string().min(1),
    kind: z.string(),
    symbol: z.string().min(1),
    plan_id: z.string(),
    bucket: z.string().default(''),
    mode: z.string().default(''),
    proposed_action: z.string().default(''),
    decided_action: z.string().default(''),
    horizon: z.string().min(1),
    horizon_sec: number,
    decided_at: number,
    sampled_at: number,
    exposure_usd: number,
    entry_price: number,
    price: optionalNumber,
    pnl_usd: optionalNumber,
    worst_pnl_usd: optionalNumber,
  })
  .transform((entry): Outcome => entry);
