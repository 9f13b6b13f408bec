import type { RedisReader } from '../../runtime/contract/index.js';
import {
  loadPositionBook,
  p33FiguresFrom,
  p33PositionReads,
  type BookPosition,
  type PositionBookConfig,
  type RefusedFigure,
  type UnreadableListing,
} from '../positions/book.js';
import { keys } from '../../schemas/keys.js';
import {
  futureQuotes,
  highestOf,
  positionQuote,
  priceQuotesOf,
  quoteBounds,
  refusedQuotes,
  type PriceQuote,
  type QuoteBounds,
  type RefusedQuote,
} from '../positions/prices.js';
import type { ReadCommand } from '../positions/read-commands.js';
import { usd } from './numbers.js';
import { memoryWrites, type MemoryWrites } from '../positions/memory.js';
import { legOf, type Leg } from '../positions/fold.js';

/** A quantity past this is a position (reservations.ts isOpenPosition: the same dust). */
const DUST_QTY = 0.0001;

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
  /** The producers' figures refused for it (then it is of unknown size), for a decision to count and log. */
  readonly refused?: readonly RefusedFigure[];
  /**
   * Its symbol's quotes refused (stamped ahead, no number, a key Redis refused): what remains is no
   * longer cross-checked, so a held position is of unknown size for opens (unpriced).
   */
  readonly refusedQuotes?: readonly RefusedQuote[];
  /**
   * The position slots it takes: one per leg past dust, so 2 for a hedged symbol with both legs
   * open (docs/governor.md "Legs"); absent: 1. notionalUsd is then the legs' gross, qty the larger leg's.
   */
  readonly slots?: number;
}

/**
 * The open positions a source read, and (the position book's) the listing reads Redis refused: the
 * positions they would have listed are missing, so the caps cannot be judged (gates.ts
 * positionsUnreadable). A source that lists nothing (an exchange account) has none.
 */
export type LoadedPositions = readonly Position[] & {
  readonly unreadableListings?: readonly UnreadableListing[];
  /** What the decision's commit writes so the book's memory holds what this read found (memory.ts). */
  readonly memoryWrites?: MemoryWrites;
};

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
  directRead?(symbol: string, config: PositionBookConfig, now: number): DirectRead;
}

/** A source's direct read of one symbol: its reads, and the position their replies (in order) say. */
export interface DirectRead {
  readonly reads: readonly ReadCommand[];
  position(replies: readonly unknown[]): Position | undefined;
}

/** Its quantity signed as its notional is (a producer may write |qty| beside a signed notional): short < 0. */
function signedQty(p: BookPosition): number | undefined {
  return p.qty === undefined || p.notionalUsd >= 0 ? p.qty : -Math.abs(p.qty);
}

/** A symbol no producer's word can size (a refused figure: stamped ahead, no number, unreadable): a slot of unknown size. */
function unknownSize(symbol: string, refused: readonly RefusedFigure[]): Position {
  return { symbol, notionalUsd: 0, qty: undefined, markPrice: undefined, asOfMs: Number.POSITIVE_INFINITY, unpriced: true, refused };
}

/** The shared position book (handlers/positions/book.ts): our view, unapplied snapshots and P3.3's hashes. */
export const bookPositionSource: PositionSource = {
  name: 'position-book',
  async load(redis, now, config) {
    // The caps count notional and slots, never sigma: the market's sigmas are not read.
    const { book } = await loadPositionBook(redis, config, { now, withUnpriced: true, withMarketSigma: false });
    const unknown = new Map<string, RefusedFigure[]>();
    for (const r of book.refused) unknown.set(r.symbol, [...(unknown.get(r.symbol) ?? []), r]);
    const positions: Position[] = [...unknown].map(([symbol, refused]) => unknownSize(symbol, refused));
    const unreadableQuotes = unreadableQuotesOf(book.untrusted);
    const bounds = quoteBounds(config);
    for (const [symbol, figures] of book.figures) {
      if (unknown.has(symbol)) continue;
      const replies = book.quotes.get(symbol) ?? [];
      const quotes = priceQuotesOf(replies);
      const refusedOfReplies = refusedQuotes(replies, quotes, now, bounds);
      const unreadable = unreadableQuotes.get(symbol);
      const refused = unreadable === undefined ? refusedOfReplies : [...unreadable, ...refusedOfReplies];
      const position = sizedForCaps(symbol, figures, quotes, now, bounds, refused);
      if (position !== undefined) positions.push(position);
    }
    positions.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
    // A memory Redis refused to read is not written over (the listing blocks opens meanwhile).
    const memoryRead = !book.unreadableListings.some((u) => u.listing === 'held');
    return Object.assign(positions, {
      unreadableListings: book.unreadableListings,
      ...(memoryRead
        ? { memoryWrites: memoryWrites(book.remembered, book.memory, { before: book.listingMarkRead, after: book.listingMark }) }
        : {}),
    });
  },
  directRead(symbol, config, now) {
    return {
      reads: p33PositionReads(symbol, config),
      position(answers) {
        const { fresh, refused } = p33FiguresFrom(symbol, answers, { config, now });
        if (refused.length > 0) return unknownSize(symbol, refused);
        // Priced at its own marks here; the plan's quotes price it again (book-view.ts withOwnPriced).
        return sizedForCaps(symbol, fresh, [], now, quoteBounds(config));
      },
    };
  },
};

/**
 * A symbol's exposure for the caps from its fresh figures (docs/governor.md "Figures"): the largest
 * of each figure's |qty| × the highest usable mark of `quotes` and every figure's own, or its own
 * |notional| where that is larger (no usable mark, or no quantity stated). A flat figure removes
 * nothing another still reports. Unpriced when a figure holds a quantity without a price of its
 * own and no mark is usable anywhere; undefined when every figure is flat.
 */
function sizedForCaps(
  symbol: string,
  figures: readonly BookPosition[],
  quotes: readonly PriceQuote[],
  now: number,
  bounds: QuoteBounds,
  refusedOfSymbol: readonly RefusedQuote[] = [],
): Position | undefined {
  // Made without a list for each figure and leg: run for every held symbol at each plan (~1,000 at 1,000 held).
  const own: PriceQuote[] = [];
  for (const f of figures) for (const quote of positionQuote(f)) own.push(quote);
  const mark = highestOf(quotes, own, now, bounds)?.price;
  // Each leg apart (a flat figure is of no leg: it sizes nothing), in the order the figures name
  // them (the larger of two equal legs is the first), then the legs added.
  const sizeLeg = (ofLeg: readonly BookPosition[]) => sizedLeg(symbol, ofLeg, mark, own, quotes, now, bounds, refusedOfSymbol);
  if (figures.length === 1) return legOfFigure(figures[0]!) === undefined ? undefined : sizeLeg(figures);
  const legs: Leg[] = [];
  for (const f of figures) {
    const leg = legOfFigure(f);
    if (leg !== undefined && !legs.includes(leg)) legs.push(leg);
  }
  const sized: Position[] = [];
  for (const leg of legs) {
    const one = sizeLeg(figures.filter((f) => legOfFigure(f) === leg));
    if (one !== undefined) sized.push(one);
  }
  if (sized.length <= 1) return sized[0];
  const larger = sized.reduce((a, b) => (Math.abs(b.qty ?? 0) > Math.abs(a.qty ?? 0) ? b : a));
  const slots = sized.filter((p) => p.qty === undefined || Math.abs(p.qty) > DUST_QTY).length;
  const futures = sized.flatMap((p) => p.futureQuotes ?? []);
  const refusedOfLegs = sized.find((p) => p.refusedQuotes !== undefined)?.refusedQuotes;
  const unpriced = sized.some((p) => p.unpriced === true);
  return {
    symbol,
    qty: larger.qty,
    markPrice: mark,
    asOfMs: Math.max(...sized.map((p) => p.asOfMs ?? 0)),
    notionalUsd: unpriced ? 0 : usd(sized.reduce((sum, p) => sum + p.notionalUsd, 0)),
    ...(unpriced ? { unpriced: true as const } : {}),
    ...(refusedOfLegs === undefined ? {} : { refusedQuotes: refusedOfLegs }),
    ...(slots > 1 ? { slots } : {}),
    ...(futures.length === 0 ? {} : { futureQuotes: futures }),
  };
}

/** The leg a figure sizes: its own, else its sign's; none for a flat one. */
const legOfFigure = (f: BookPosition): Leg | undefined => f.leg ?? legOf(undefined, f.notionalUsd || f.qty);

/** One leg's exposure for the caps from its fresh figures, by the rule of sizedForCaps. */
function sizedLeg(
  symbol: string,
  figures: readonly BookPosition[],
  mark: number | undefined,
  own: readonly PriceQuote[],
  quotes: readonly PriceQuote[],
  now: number,
  bounds: QuoteBounds,
  refusedOfSymbol: readonly RefusedQuote[],
): Position | undefined {
  let notional = 0;
  let qty: number | undefined;
  let asOfMs = 0;
  let unsized = false;
  for (const f of figures) {
    const q = signedQty(f);
    const atMark = q === undefined || mark === undefined ? 0 : Math.abs(q) * mark;
    notional = Math.max(notional, Math.abs(f.notionalUsd), atMark);
    // A quantity with no price of its own and none usable anywhere: its size is unknown.
    if (q !== undefined && q !== 0 && f.notionalUsd === 0 && mark === undefined) unsized = true;
    if (q !== undefined && (qty === undefined || Math.abs(q) > Math.abs(qty))) qty = q;
    asOfMs = Math.max(asOfMs, f.asOfMs);
  }
  if (notional === 0 && (qty === undefined || qty === 0)) return undefined;
  const ownFuture = futureQuotes(own, now, bounds);
  const refused = [...futureQuotes(quotes, now, bounds), ...ownFuture];
  const position: Position = { symbol, notionalUsd: usd(notional), qty, markPrice: mark, asOfMs };
  // A refused quote of the symbol (its own figures' marks included): what remains is not cross-checked, so its size is unknown.
  const untrusted =
    ownFuture.length === 0
      ? refusedOfSymbol
      : [...refusedOfSymbol, ...ownFuture.map((q): RefusedQuote => ({ source: q.source, reason: 'future' }))];
  const sized =
    unsized || untrusted.length > 0
      ? { ...position, notionalUsd: 0, unpriced: true as const, ...(untrusted.length > 0 ? { refusedQuotes: untrusted } : {}) }
      : position;
  return refused.length === 0 ? sized : { ...sized, futureQuotes: refused };
}

/** The quote keys of the book Redis refused to read (its untrusted `unreadable_quote`), per symbol, as refused quotes. */
function unreadableQuotesOf(
  untrusted: readonly { readonly symbol: string; readonly field: string; readonly value: string }[],
): Map<string, RefusedQuote[]> {
  const out = new Map<string, RefusedQuote[]>();
  for (const u of untrusted) {
    if (u.field !== 'unreadable_quote') continue;
    const source: RefusedQuote['source'] =
      u.value === keys.marketState(u.symbol) ? 'market_state' : u.value === keys.ticker(u.symbol) ? 'ticker' : 'p33';
    out.set(u.symbol, [...(out.get(u.symbol) ?? []), { source, reason: 'unreadable' }]);
  }
  return out;
}

/**
 * The book's position of a symbol and the symbol's direct read, one position by the same rule:
 * a position of unknown size stays so; else the larger quantity and the larger notional, and a
 * quantity without a price anywhere is unpriced.
 */
function largerOf(a: Position, b: Position): Position {
  if (a.unpriced === true && a.qty === undefined) return a;
  if (b.unpriced === true && b.qty === undefined) return b;
  // A refused quote of the symbol stays so: the other read's price is no more cross-checked than the book's.
  if (a.refusedQuotes !== undefined || b.refusedQuotes !== undefined) {
    const big = Math.abs(b.qty ?? 0) > Math.abs(a.qty ?? 0) ? b : a;
    const refusedQuotes = [...(a.refusedQuotes ?? []), ...(b.refusedQuotes ?? [])];
    const futures = [...(a.futureQuotes ?? []), ...(b.futureQuotes ?? [])];
    return { ...big, notionalUsd: 0, unpriced: true, refusedQuotes, ...(futures.length === 0 ? {} : { futureQuotes: futures }) };
  }
  const [big] = Math.abs(b.qty ?? 0) > Math.abs(a.qty ?? 0) ? [b] : [a];
  const slots = Math.max(a.slots ?? 1, b.slots ?? 1);
  const marks = [a.markPrice, b.markPrice].filter((m): m is number => m !== undefined);
  const markPrice = marks.length === 0 ? undefined : Math.max(...marks);
  const unpriced = big.qty !== undefined && big.qty !== 0 && markPrice === undefined;
  const futures = [...(a.futureQuotes ?? []), ...(b.futureQuotes ?? [])];
  return {
    symbol: a.symbol,
    qty: big.qty,
    markPrice,
    asOfMs: Math.max(a.asOfMs ?? 0, b.asOfMs ?? 0),
    notionalUsd: unpriced ? 0 : Math.max(a.notionalUsd, b.notionalUsd),
    ...(unpriced ? { unpriced: true as const } : {}),
    ...(slots > 1 ? { slots } : {}),
    ...(futures.length === 0 ? {} : { futureQuotes: futures }),
  };
}

/** The book with the plan's symbol read directly merged in by the book's rule (largerOf). */
export function withDirect(positions: readonly Position[], direct: Position | undefined): readonly Position[] {
  if (direct === undefined) return positions;
  const own = positions.find((p) => p.symbol === direct.symbol);
  const merged = own === undefined ? direct : largerOf(own, direct);
  return merged === own ? positions : [...positions.filter((p) => p.symbol !== direct.symbol), merged];
}
