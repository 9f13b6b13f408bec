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
  // Added by issue #26 (absent on entries written before; readers treat absent as unknown):
  /**
   * Where entry_price comes from: `decision` (the gate recorded its mark with the decision),
   * `follow_up` (the follow-up read it when it read the decision, followed_at).
   */
  readonly entry_source?: 'decision' | 'follow_up' | undefined;
  /** ms: when the follow-up read the decision. */
  readonly followed_at?: number | undefined;
  /** The follow-up read the decision more than late_bound_sec after decided_at. */
  readonly read_late?: boolean | undefined;
  /** The sample was taken more than late_bound_sec after decided_at + horizon_sec. */
  readonly sample_late?: boolean | undefined;
  /** OUTCOME_LATE_SEC in force when the entry was written. */
  readonly late_bound_sec?: number | undefined;
  /** Why price is missing: no_price (no quote fresh enough at the sample), horizon_past (read after the horizon had passed). */
  readonly missing_reason?: 'no_price' | 'horizon_past' | undefined;
  /** The quote the sample used: its source (market_state, p33, ticker, position) and time (ms; undefined for a quote of no time). */
  readonly price_source?: string | undefined;
  readonly price_at?: number | undefined;
  // Added by issue #40:
  /** ms between price_at and sampled_at (undefined for a quote of no time). */
  readonly price_age_ms?: number | undefined;
  /** The quote entry_price is: its source, time (ms) and age at the decision (ms); undefined when not known (a record of a release that wrote a mark without its source). */
  readonly entry_price_source?: string | undefined;
  readonly entry_price_at?: number | undefined;
  readonly entry_price_age_ms?: number | undefined;
}

const flag = (value: boolean | undefined) => (value === undefined ? '' : value ? '1' : '0');
const optional = (value: number | string | undefined) => (value === undefined ? '' : String(value));

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
    entry_source: outcome.entry_source ?? '',
    followed_at: optional(outcome.followed_at),
    read_late: flag(outcome.read_late),
    sample_late: flag(outcome.sample_late),
    late_bound_sec: optional(outcome.late_bound_sec),
    missing_reason: outcome.missing_reason ?? '',
    price_source: outcome.price_source ?? '',
    price_at: optional(outcome.price_at),
    price_age_ms: optional(outcome.price_age_ms),
    entry_price_source: outcome.entry_price_source ?? '',
    entry_price_at: optional(outcome.entry_price_at),
    entry_price_age_ms: optional(outcome.entry_price_age_ms),
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

/** '1' true, '0' false, absent or '' unknown. */
const optionalFlag = z
  .string()
  .optional()
  .transform((v) => (v === '1' ? true : v === '0' ? false : undefined));
/** A word from `words`, absent or '' (or an unknown word) unknown. */
const optionalWord = <const W extends readonly string[]>(words: W) =>
  z
    .string()
    .optional()
    .transform((v): W[number] | undefined => (v !== undefined && (words as readonly string[]).includes(v) ? v : undefined));

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
    entry_source: optionalWord(['decision', 'follow_up'] as const),
    followed_at: optionalNumber,
    read_late: optionalFlag,
    sample_late: optionalFlag,
    late_bound_sec: optionalNumber,
    missing_reason: optionalWord(['no_price', 'horizon_past'] as const),
    price_source: z
      .string()
      .optional()
      .transform((v) => (v === '' ? undefined : v)),
    price_at: optionalNumber,
    price_age_ms: optionalNumber,
    entry_price_source: z
      .string()
      .optional()
      .transform((v) => (v === '' ? undefined : v)),
    entry_price_at: optionalNumber,
    entry_price_age_ms: optionalNumber,
  })
  .transform((entry): Outcome => entry);
