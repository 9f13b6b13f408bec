import { positionQuote, type PriceQuote } from '../positions/prices.js';
import { usd } from './numbers.js';
import { withDirect, type Position } from './positions.js';
import { isOpenPosition } from './reservations.js';

/** The book a plan counts, with what the gates take from it about the whole book and its own symbol. */
export interface BookView {
  /** The book with the symbol's direct read merged in (withDirect). */
  readonly positions: readonly Position[];
  /** Open positions, dust (|qty| ≤ 0.0001) not counted. */
  readonly openPositions: number;
  /** Σ|notional| over the book. */
  readonly totalNotional: number;
  /** The symbol's own position (the first of the book's for it). */
  readonly own: Position | undefined;
  /** Its own mark as a price quote (none, or one). */
  readonly ownQuotes: readonly PriceQuote[];
  /** Open positions no producer prices (Position.unpriced): their symbols, sorted. */
  readonly unpriced: readonly string[];
}

/** What the gates count over a whole book. */
export interface BookTotals {
  /** Open positions, priced or not: a position is a slot whatever its hash says about price. */
  readonly openPositions: number;
  /** Σ|notional| of the priced ones. */
  readonly totalNotional: number;
  /** The symbols of open positions without a price: the total is not known while there are any. */
  readonly unpriced: readonly string[];
}

const NONE: readonly string[] = Object.freeze([]);

/** What the gates count over `positions`. */
export function bookTotals(positions: readonly Position[]): BookTotals {
  let open = 0;
  let unpriced: string[] | undefined;
  for (const p of positions) {
    if (!isOpenPosition(p)) continue;
    // A hedged symbol's two legs are two slots (docs/governor.md "Legs").
    open += p.slots ?? 1;
    if (p.unpriced === true) (unpriced ??= []).push(p.symbol);
  }
  return { openPositions: open, totalNotional: usd(positions.reduce((sum, p) => sum + p.notionalUsd, 0)), unpriced: unpriced ?? NONE };
}

/** The book of `symbol`'s plan: the book with the symbol's direct read, if any, merged in. */
export function bookView(book: readonly Position[], direct: Position | undefined, symbol: string): BookView {
  const positions = withDirect(book, direct);
  const { openPositions, totalNotional, unpriced } = bookTotals(positions);
  const own = positions.find((p) => p.symbol === symbol);
  return { positions, openPositions, totalNotional, own, ownQuotes: positionQuote(own), unpriced };
}

/**
 * The view with its own symbol's position priced at `mark`, the highest usable price the plan's
 * own reads found for the symbol, its own marks included (the book's rule, from the same
 * producers' quotes): a position without a price gets one, and one counted at a lower mark is
 * counted at this one. Never lower than the book counted it.
 */
export function withOwnPriced(view: BookView, mark: number | undefined): BookView {
  const own = view.own;
  // A position whose quotes the book refused is of unknown size whatever this read's mark (positions.ts sizedForCaps).
  if (own?.qty === undefined || mark === undefined || own.refusedQuotes !== undefined) return view;
  const notionalUsd = Math.max(own.unpriced === true ? 0 : own.notionalUsd, usd(Math.abs(own.qty) * mark));
  if (own.unpriced !== true && own.markPrice === mark && own.notionalUsd === notionalUsd) return view;
  const priced: Position = {
    symbol: own.symbol,
    qty: own.qty,
    asOfMs: own.asOfMs,
    markPrice: mark,
    notionalUsd,
    ...(own.slots === undefined ? {} : { slots: own.slots }),
  };
  const positions = view.positions.map((p) => (p === own ? priced : p));
  return { ...view, ...bookTotals(positions), positions, own: priced };
}
