import type { RedisReader } from '../../runtime/contract/index.js';
import {
  loadPositionBook,
  p33PositionFrom,
  p33PositionReads,
  p33UnpricedFrom,
  type BookPosition,
  type PositionBookConfig,
  type UnreadableListing,
} from '../positions/book.js';
import { futureQuotes, highestOf, positionQuote, priceQuotesOf, quoteBounds, type PriceQuote } from '../positions/prices.js';
import type { ReadCommand } from '../positions/read-commands.js';
import { usd } from './numbers.js';

export interface Position {
  readonly symbol: string;
  /** Absolute notional in USD. */
  readonly notionalUsd: number;
  /** Signed: short < 0. */
  readonly qty: number | undefined;
  readonly markPrice: number | undefined;
  /** When the figure is from (ms), to rank it against a direct read of the same symbol. */
  readonly asOfMs?: number;
  /**
   * A position with a quantity that no producer prices (no mark anywhere): notionalUsd is 0 only
   * for want of a price, so the total cap cannot be judged (gates.ts positionPriceUnknown).
   */
  readonly unpriced?: true;
  /** Its symbol's quotes stamped beyond PRICE_MAX_SKEW_SEC when it was priced: refused, for a decision to count and log. */
  readonly futureQuotes?: readonly PriceQuote[];
}

/**
 * The open positions a source read, and (the position book's) the listing reads Redis refused: the
 * positions they would have listed are missing, so the caps cannot be judged (gates.ts
 * positionsUnreadable). A source that lists nothing (an exchange account) has none.
 */
export type LoadedPositions = readonly Position[] & { readonly unreadableListings?: readonly UnreadableListing[] };

/**
 * Where the governor learns open positions. The position book by default; an exchange account
 * source (the original read Binance /fapi/v2/account) can implement the same interface.
 */
export interface PositionSource {
  readonly name: string;
  load(redis: RedisReader, now: number, config: PositionBookConfig): Promise<LoadedPositions>;
  /**
   * The plan's own symbol read directly, so a position the book's index has not seen yet still
   * counts: reads and what their replies say, which the governor sends with the symbol's other
   * reads (snapshot.ts). Absent when the source has nothing more to say than load().
   */
  directRead?(symbol: string, config?: PositionBookConfig): DirectRead;
}

/** A source's direct read of one symbol: its reads, and the position their replies (in order) say. */
export interface DirectRead {
  readonly reads: readonly ReadCommand[];
  position(replies: readonly unknown[]): Position | undefined;
}

/** Its quantity signed as its notional is (a producer may write |qty| beside a signed notional): short < 0. */
function toPosition(p: BookPosition): Position {
  const qty = p.qty === undefined || p.notionalUsd >= 0 ? p.qty : -Math.abs(p.qty);
  return { symbol: p.symbol, notionalUsd: Math.abs(p.notionalUsd), qty, markPrice: p.markPrice, asOfMs: p.asOfMs };
}

/** The shared position book (handlers/positions/book.ts): our view, unapplied snapshots and P3.3's hashes. */
export const bookPositionSource: PositionSource = {
  name: 'position-book',
  async load(redis, now, config) {
    const { book } = await loadPositionBook(redis, config, { now, withUnpriced: true });
    // The newest word on these symbols names a quantity and no price: it replaces any older figure
    // of the symbol. Every position is counted at the highest usable mark of all producers, its
    // own included (the rule that prices an open), read in the same moment as the book.
    const replaced = new Set(book.unpriced.map((u) => u.position.symbol));
    const positions = book.positions
      .filter((p) => !replaced.has(p.symbol))
      .map((p) => atHighestMark(toPosition(p), book.quotes.get(p.symbol), now, config));
    for (const { position, quoteReplies } of book.unpriced) positions.push(pricedAtMarket(position, quoteReplies, now, config));
    positions.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
    return Object.assign(positions, { unreadableListings: book.unreadableListings });
  },
  // readP33Position split into its reads and their reading, which ages nothing (book.ts).
  directRead(symbol, config) {
    return {
      reads: p33PositionReads(symbol, config),
      position(answers) {
        // A P3.3 hash Redis refuses to read (another type): a position of unknown size, the newest
        // word on the symbol (opens blocked position_price_unknown, closes decided as ever). The
        // sigma reads (the last two) the governor does not use.
        if (answers.slice(0, -2).some((a) => a instanceof Error))
          return { symbol, notionalUsd: 0, qty: undefined, markPrice: undefined, asOfMs: Number.POSITIVE_INFINITY, unpriced: true };
        const replies = answers.map((a) => (a instanceof Error ? null : a));
        const position = p33PositionFrom(symbol, replies);
        if (position !== undefined) return toPosition(position);
        // A quantity without a price is still a position: the plan's own mark prices it (snapshot.ts).
        const unpriced = p33UnpricedFrom(symbol, replies);
        return unpriced === undefined ? undefined : { ...toPosition(unpriced), unpriced: true };
      },
    };
  },
};

/**
 * A priced position at the highest usable mark of its own and the quotes of its symbol
 * (prices.ts highestOf); its own figure when it states no quantity or no quote is usable.
 */
function atHighestMark(
  position: Position,
  quoteReplies: readonly unknown[] | undefined,
  now: number,
  config: PositionBookConfig,
): Position {
  if (quoteReplies === undefined || position.qty === undefined) return position;
  const [quotes, own, bounds] = [priceQuotesOf(quoteReplies), positionQuote(position), quoteBounds(config)];
  const refused = withRefused(position, [...futureQuotes(quotes, now, bounds), ...futureQuotes(own, now, bounds)]);
  const mark = highestOf(quotes, own, now, bounds)?.price;
  if (mark === undefined || mark === position.markPrice) return refused;
  return { ...refused, notionalUsd: usd(Math.abs(position.qty) * mark), markPrice: mark };
}

/**
 * A position the book could not price, at the highest usable mark any producer wrote for its symbol
 * (handlers/positions/prices.ts, the rule an open is priced by), or marked unpriced when there is none.
 */
function pricedAtMarket(position: BookPosition, quoteReplies: readonly unknown[], now: number, config: PositionBookConfig): Position {
  const [quotes, bounds] = [priceQuotesOf(quoteReplies), quoteBounds(config)];
  const mark = highestOf(quotes, [], now, bounds)?.price;
  const qty = position.qty;
  const base = withRefused({ symbol: position.symbol, qty, asOfMs: position.asOfMs }, futureQuotes(quotes, now, bounds));
  if (mark === undefined || qty === undefined) return { ...base, notionalUsd: 0, markPrice: undefined, unpriced: true };
  return { ...base, notionalUsd: usd(Math.abs(qty) * mark), markPrice: mark };
}

/** `position` carrying the quotes refused as stamped ahead, when there are any. */
function withRefused<T extends object>(position: T, refused: readonly PriceQuote[]): T | (T & { futureQuotes: readonly PriceQuote[] }) {
  return refused.length === 0 ? position : { ...position, futureQuotes: refused };
}

/**
 * The book with the plan's symbol read directly merged in: the direct P3.3 figure replaces the
 * book's when it is more recent (or the book has none).
 */
export function withDirect(positions: readonly Position[], direct: Position | undefined): readonly Position[] {
  if (direct === undefined) return positions;
  const own = positions.find((p) => p.symbol === direct.symbol);
  if (own !== undefined && (own.asOfMs ?? 0) >= (direct.asOfMs ?? 0)) return positions;
  return [...positions.filter((p) => p.symbol !== direct.symbol), direct];
}
