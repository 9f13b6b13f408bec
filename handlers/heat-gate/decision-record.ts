import type { HeatAssessment } from '../positions/heat.js';

/**
 * Fields of our own on a heat decision entry that `report calibrate` needs whatever room
 * debug_json has left (issue #40 item 1): each symbol's share of the heat, every one of them, and
 * the decision's time in milliseconds. The original's thirteen fields come first and are unchanged;
 * debug_json stays at most 400 characters (its `by_symbol` keeps the largest shares that fit, for
 * a reader of that field alone).
 */
export interface DecisionRecordFields {
  /** Compact JSON {symbol: |notional| × sigma / max(equity, 1)}, every counted position; they sum to the heat when not capped. */
  heat_by_symbol?: string;
  /** ms since the epoch on the gate's clock (ts_epoch is whole seconds). */
  decided_at_ms: string;
}

/** `{"BTCUSDT":0.000125,...}` of an assessment, symbols in order. */
export function heatBySymbolJson(contributions: readonly { readonly symbol: string; readonly heat: number }[]): string {
  // A book holds one position per symbol; two figures of one symbol would still be summed.
  const sums = new Map<string, number>();
  for (const c of contributions) sums.set(c.symbol, (sums.get(c.symbol) ?? 0) + c.heat);
  // By symbol name: the same text for the same book whatever order its sources listed it in. Written
  // pair by pair: an object of 1,000 symbols built to be stringified was 5 % of what a decision
  // allocated at 1,000 held (`npx tsx bench/book-allocations.ts`).
  const pairs = [...sums].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${pairs.map(([symbol, heat]) => `${JSON.stringify(symbol)}:${JSON.stringify(heat)}`).join(',')}}`;
}

export function decisionRecordFields(assessment: HeatAssessment, nowMs: number): DecisionRecordFields {
  const decidedAt = String(nowMs);
  if (!assessment.trusted || assessment.contributions.length === 0) return { decided_at_ms: decidedAt };
  return { heat_by_symbol: heatBySymbolJson(assessment.contributions), decided_at_ms: decidedAt };
}
