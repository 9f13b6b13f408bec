import type { Position } from './positions.js';
import { isOpenPosition } from './reservations.js';

/**
 * Each symbol's last open quantity this process saw in the book, and when: the baseline of an
 * open decided while its symbol has no figure at all (a P3.3 hash gone for a moment, then back).
 * Measured from 0 instead, the position's return would read as the fill of the open's order and
 * consume its reservation; measured from the last figure seen, only growth past it does. A
 * position truly closed meanwhile then keeps the reservation counted whole until it expires:
 * exposure over-counted for at most GOV_RESERVATION_TIMEOUT_SEC, never under-counted.
 */
export class LastFigures {
  private readonly figures = new Map<string, { readonly qty: number; readonly at: number }>();

  /** The book a plan's state read at `now`. */
  note(positions: readonly Position[], now: number): void {
    for (const p of positions) if (p.qty !== undefined && isOpenPosition(p)) this.figures.set(p.symbol, { qty: p.qty, at: now });
  }

  /** The symbol's last open quantity (signed), when seen at or after `since` (ms). */
  qtyOf(symbol: string, since: number): number | undefined {
    const figure = this.figures.get(symbol);
    if (figure === undefined || figure.at >= since) return figure?.qty;
    this.figures.delete(symbol);
    return undefined;
  }
}
