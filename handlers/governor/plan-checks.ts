import { epochMs } from '../../domain/epoch.js';
import { usd } from '../../domain/money.js';

/**
 * The safety checks an apply plan faces before any of the original's gates, stricter than the
 * original on purpose (docs/migration.md: the original permitted every probe of issue #12).
 * Pure: the plan's figures and times in, a verdict out.
 */
export type PlanCheckReason =
  | 'plan_time_in_future'
  | 'plan_time_unknown_unit'
  | 'plan_qty_invalid'
  | 'market_price_unknown'
  | 'plan_price_mismatch'
  | 'plan_notional_mismatch';

export interface PlanTimes {
  /** Milliseconds of the plan's stream entry id. */
  readonly entryMs: number;
  /** Milliseconds of the first entry of a replayed dead letter (its `original_id`), when earlier. */
  readonly originalEntryMs?: number;
  /** The plan's own `timestamp` field, in whatever unit its producer wrote. */
  readonly timestamp?: number;
}

/**
 * `ageSec`: since the earliest time that vouches for the plan; `entryAgeSec`: since its entry,
 * which Redis stamped (a close's age: no producer's clock keeps a position open). `block`: the
 * plan's own timestamp names no time it was made; its age is then its entry's.
 */
export type PlanAge =
  | { readonly kind: 'age'; readonly ageSec: number; readonly entryAgeSec: number }
  | {
      readonly kind: 'block';
      readonly reason: PlanCheckReason;
      readonly detail: string;
      readonly ageSec: number;
      readonly entryAgeSec: number;
    };

/**
 * A plan is as old as the earliest time that vouches for it: its entry (or the entry a replay
 * copied), or its own timestamp. Taking the later one would let a ten-minute-old entry stamped
 * "now", or a dead letter replayed hours later, pass as fresh. A timestamp ahead of Redis's clock
 * (`nowMs`, the clock the entry ids are stamped on) by more than the allowed skew, or in no known
 * unit, names no time the plan was made: `block` (gates.ts blocks opens on it; a close is judged
 * by its entry's age alone).
 */
export function planAge(times: PlanTimes, nowMs: number, maxSkewSec: number): PlanAge {
  const entryMs = times.originalEntryMs !== undefined && times.originalEntryMs < times.entryMs ? times.originalEntryMs : times.entryMs;
  const entryAgeSec = Math.max(0, (nowMs - entryMs) / 1000);
  if (times.timestamp === undefined) return { kind: 'age', ageSec: entryAgeSec, entryAgeSec };
  const stampedMs = epochMs(times.timestamp);
  if (stampedMs === undefined)
    return {
      kind: 'block',
      reason: 'plan_time_unknown_unit',
      detail: `timestamp ${times.timestamp} is in no known unit (s, ms, µs, ns)`,
      ageSec: entryAgeSec,
      entryAgeSec,
    };
  if (stampedMs - nowMs > maxSkewSec * 1000) {
    const aheadSec = Math.round((stampedMs - nowMs) / 1000);
    return {
      kind: 'block',
      reason: 'plan_time_in_future',
      detail: `timestamp is ${aheadSec} s ahead of Redis's clock (TIME, which stamps the stream ids): the producer's clock and Redis's disagree`,
      ageSec: entryAgeSec,
      entryAgeSec,
    };
  }
  return { kind: 'age', ageSec: Math.max(0, (nowMs - Math.min(entryMs, stampedMs)) / 1000), entryAgeSec };
}

export interface PlanFigures {
  readonly qty: number | undefined;
  readonly price: number | undefined;
  readonly notional: number | undefined;
}

export type OpenPricing =
  | { readonly kind: 'priced'; readonly qty: number; readonly markPrice: number; readonly notional: number }
  | { readonly kind: 'block'; readonly reason: PlanCheckReason; readonly detail: string };

/** Whether two figures agree within `tolerancePct` percent of the market's. */
function agrees(planFigure: number, marketFigure: number, tolerancePct: number): boolean {
  return Math.abs(planFigure - marketFigure) <= (Math.abs(marketFigure) * tolerancePct) / 100;
}

/**
 * An open is priced at the market's mark price: qty × mark. The plan's own price and notional
 * are cross-checks only, so no figure the plan carries can make it look smaller than it is; an
 * open without a positive quantity, or without a market price, is not judged at all.
 */
export function priceOpen(plan: PlanFigures, markPrice: number | undefined, tolerancePct: number): OpenPricing {
  const { qty, price, notional } = plan;
  if (qty === undefined || !Number.isFinite(qty) || qty <= 0)
    return { kind: 'block', reason: 'plan_qty_invalid', detail: `qty ${qty ?? 'missing'}: an open needs a positive quantity` };
  if (markPrice === undefined || !Number.isFinite(markPrice) || markPrice <= 0) {
    return { kind: 'block', reason: 'market_price_unknown', detail: 'no mark price for the symbol in its market state or position' };
  }
  const marketNotional = usd(qty * markPrice);
  if (price !== undefined && !agrees(price, markPrice, tolerancePct)) {
    return {
      kind: 'block',
      reason: 'plan_price_mismatch',
      detail: `plan price ${price} is more than ${tolerancePct}% from the mark price ${markPrice}`,
    };
  }
  if (notional !== undefined && !agrees(notional, marketNotional, tolerancePct)) {
    return {
      kind: 'block',
      reason: 'plan_notional_mismatch',
      detail: `plan notional ${notional} is more than ${tolerancePct}% from qty × mark = ${marketNotional}`,
    };
  }
  return { kind: 'priced', qty, markPrice, notional: marketNotional };
}
