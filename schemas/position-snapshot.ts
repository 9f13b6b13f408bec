import * as z from 'zod';
import { sideSign } from '../domain/side.js';
import { numericField, symbolSchema } from './common.js';

const nonNegative = numericField.refine((v) => v >= 0, 'must not be negative');

/**
 * An entry of quantum:stream:position.snapshot, in either producer's format:
 * - the seeds': symbol, position_notional_usd (signed), sigma or volatility, qty, mark_price;
 * - the balance tracker's (upstream microservices/balance_tracker/balance_tracker.py at 73fab1f55,
 *   `_publish_positions`): symbol, side LONG/SHORT, position_qty (|positionAmt|), mark_price,
 *   entry_price, unrealized_pnl, leverage, timestamp, source …; no notional, no sigma.
 * An entry with neither a notional nor a quantity and a mark is no one's format.
 */
export const positionSnapshotSchema = z
  .looseObject({
    symbol: symbolSchema,
    position_notional_usd: numericField.optional(),
    sigma: nonNegative.optional(),
    volatility: nonNegative.optional(),
    qty: numericField.optional(),
    position_qty: numericField.optional(),
    mark_price: nonNegative.optional(),
  })
  .superRefine((snapshot, ctx) => {
    const qty = snapshot.qty ?? snapshot.position_qty;
    if (snapshot.position_notional_usd === undefined && (qty === undefined || snapshot.mark_price === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['position_notional_usd'],
        message: 'is required unless a quantity (qty or position_qty) and mark_price are given',
      });
  });

export type PositionSnapshot = z.infer<typeof positionSnapshotSchema>;

/**
 * The signed notional (USD) a snapshot states: position_notional_usd as given; else quantity ×
 * mark, signed by side (the balance tracker writes |qty| and the side), or by the quantity's own
 * sign without a side.
 */
export function snapshotNotional(snapshot: PositionSnapshot): number {
  if (snapshot.position_notional_usd !== undefined) return snapshot.position_notional_usd;
  const qty = snapshot.qty ?? snapshot.position_qty ?? 0;
  const mark = snapshot.mark_price ?? 0;
  const sign = sideSign(snapshot.side) ?? (qty < 0 ? -1 : 1);
  return sign * Math.abs(qty) * mark;
}

/**
 * Whether a snapshot stands only until its producer stops repeating it. The balance tracker's
 * format (quantity × mark, no notional) is re-sent every 30 s per open position and never zeroed
 * when a position closes, so it ages out (POSITION_MAX_AGE_SEC). The seeds' format states its
 * notional and closes a position with a 0: it stands until that comes.
 */
export function snapshotAges(snapshot: PositionSnapshot): boolean {
  return snapshot.position_notional_usd === undefined;
}
