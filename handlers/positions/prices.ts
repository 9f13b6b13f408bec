import { epochMs } from '../../domain/epoch.js';
import type { CounterMetric, Logger, RedisReader } from '../../runtime/contract/index.js';
import { parseNumber } from '../../schemas/fields.js';
import { keys } from '../../schemas/keys.js';
import { p33Prefixes, type PositionBookConfig } from './book.js';
import { sendReadsSettled, type ReadCommand } from './read-commands.js';
import { DEFAULT_PRICE_MAX_AGE_SEC, DEFAULT_PRICE_MAX_SKEW_SEC } from './bounds.js';

/**
 * A mark price for any symbol, open or flat: the freshest of
 * - quantum:state:market:{symbol} mark_price (the seeds' market state; upstream has no writer, and
 *   the seeds give it no time field: it is used only when no timed source is fresh, or by its
 *   `timestamp` when one is written);
 * - the Position Ledger's (P3.3) mark_price under each prefix, flat hashes included (ts_epoch, s;
 *   position_state_brain/main.py: every P33_POLL_SEC = 5 s, TTL 1 h);
 * - the price feed's quantum:ticker:{symbol} markPrice (timestamp in ms; microservices/price_feed
 *   at 73fab1f55, `publish_price`: every mark-price tick, TTL 10 s);
 * - a caller's own figure (the position's snapshot mark, at the snapshot's time).
 * A timed quote older than the maximum age, or stamped further ahead than the allowed skew, is
 * refused; none left: no price (the governor then blocks `market_price_unknown`).
 */

export type PriceSource = 'market_state' | 'p33' | 'ticker' | 'position';

export interface PriceQuote {
  readonly source: PriceSource;
  readonly price: number;
  /** Milliseconds since the epoch of the quote; undefined when its source writes no time. */
  readonly asOfMs: number | undefined;
}

export { DEFAULT_PRICE_MAX_AGE_SEC, DEFAULT_PRICE_MAX_SKEW_SEC } from './bounds.js';

const positive = (value: number | undefined) => (value !== undefined && Number.isFinite(value) && value > 0 ? value : undefined);

/** Adds to `out` the quote `reply` ([price, time]; anything else is none, a refusal included) makes, if it makes one. */
function addQuote(out: PriceQuote[], source: PriceSource, reply: unknown): void {
  if (!Array.isArray(reply)) return;
  const pair = reply as Pair;
  let kept = quotesOfReplies.get(pair);
  if (kept === undefined || kept.source !== source) quotesOfReplies.set(pair, (kept = { source, quote: quoteOf(source, pair) }));
  if (kept.quote !== null) out.push(kept.quote);
}

/** The quote a pair from `source` makes: a positive price; none (null) otherwise. */
function quoteOf(source: PriceSource, [priceRaw, timeRaw]: Pair): PriceQuote | null {
  // P3.3 always writes ts_epoch: a hash without it is not the Ledger's (see the position book).
  if (source === 'p33' && (timeRaw === null || timeRaw === undefined)) return null;
  const price = positive(parseNumber(priceRaw));
  if (price === undefined) return null;
  const time = parseNumber(timeRaw);
  return { source, price, asOfMs: time === undefined ? undefined : (epochMs(time) ?? undefined) };
}

/**
 * The reads behind readPriceQuotes, for a reader that sends several as one (the governor's):
 * the market state, the ticker, then P3.3's hash under each prefix. priceQuotesOf reads their replies.
 */
export function priceQuoteReads(symbol: string, config?: Pick<PositionBookConfig, 'POSITION_P33_PREFIXES'>): ReadCommand[] {
  const reads: ReadCommand[] = [
    ['HMGET', keys.marketState(symbol), 'mark_price', 'timestamp'],
    ['HMGET', keys.ticker(symbol), 'markPrice', 'timestamp'],
  ];
  for (const prefix of p33Prefixes(config)) reads.push(['HMGET', prefix + symbol, 'mark_price', 'ts_epoch']);
  return reads;
}

type Pair = readonly (string | null | undefined)[];

/**
 * The quotes the replies of priceQuoteReads hold (from `at` on in `replies`). A read Redis refused
 * (a key of another type) is no quote: one producer's broken key is its symbol's problem only.
 */
export function priceQuotesOf(replies: readonly unknown[], at = 0, count = replies.length - at): PriceQuote[] {
  // A reply not read (a symbol whose hashes say only flat has no quotes in the book) is no quote either.
  const out: PriceQuote[] = [];
  addQuote(out, 'market_state', replies[at]);
  addQuote(out, 'ticker', replies[at + 1]);
  // Then P3.3's under each prefix.
  for (let i = at + 2; i < at + count; i++) addQuote(out, 'p33', replies[i]);
  return out;
}

/**
 * Each reply's quote (none: null), made once for each reply object: the position book's replies
 * are the key watch's kept ones, the same objects until their keys are written, and a book of
 * 1,000 held prices each of them at every plan.
 */
const quotesOfReplies = new WeakMap<Pair, { readonly source: PriceSource; readonly quote: PriceQuote | null }>();

/** Why a quote its source wrote is no quote: stamped ahead beyond the skew, a price or time no number, a key Redis refused to read. */
export type QuoteRefusalReason = 'future' | 'unparsable' | 'unreadable';

/**
 * A quote its source wrote that is no quote. What remains of its symbol's quotes is then no longer
 * cross-checked against it: the governor prices and sizes that symbol as unknown for opens
 * (docs/governor.md, "Figures": a refusal never raises trust in what remains).
 */
export interface RefusedQuote {
  readonly source: PriceSource;
  readonly reason: QuoteRefusalReason;
}

/**
 * The quotes the replies of priceQuoteReads hold that are no quote for want of a number or a
 * readable key (from `at` on): a read Redis refused (an Error in its place), a price present but no
 * number, a time present but no number. A reply not read (not an array and no Error) and a price
 * absent are nobody's word, and a price of 0 or below is its source's own "no price" (P3.3 writes
 * mark_price 0 before the exchange reports one): neither is a refusal. Quotes stamped ahead are
 * futureQuotes'.
 */
export function quoteRefusalsOf(replies: readonly unknown[], at = 0, count = replies.length - at): RefusedQuote[] {
  const out: RefusedQuote[] = [];
  for (let i = at; i < at + count; i++) {
    const source: PriceSource = i === at ? 'market_state' : i === at + 1 ? 'ticker' : 'p33';
    const reply = replies[i];
    if (reply instanceof Error) {
      out.push({ source, reason: 'unreadable' });
      continue;
    }
    if (!Array.isArray(reply)) continue;
    const [price, time] = reply as Pair;
    // A P3.3 hash without ts_epoch is not the Ledger's (priceQuotesOf): nobody's word.
    if (source === 'p33' && (time === null || time === undefined)) continue;
    if (present(price) && parseNumber(price) === undefined) out.push({ source, reason: 'unparsable' });
    else if (present(price) && present(time) && parseNumber(time) === undefined) out.push({ source, reason: 'unparsable' });
  }
  return out;
}

const present = (raw: string | null | undefined): raw is string => raw !== null && raw !== undefined;

/** Every refusal among a symbol's quotes at `now`: those quoteRefusalsOf finds in `replies`, and each quote of `quotes` stamped ahead. */
export function refusedQuotes(
  replies: readonly unknown[],
  quotes: readonly PriceQuote[],
  now: number,
  bounds: QuoteBounds = {},
  at = 0,
  count = replies.length - at,
): RefusedQuote[] {
  const future = futureQuotes(quotes, now, bounds).map((q): RefusedQuote => ({ source: q.source, reason: 'future' }));
  return [...quoteRefusalsOf(replies, at, count), ...future];
}

/** A refusal as an event names it: `source:reason` (`ticker:future`). */
export const refusalName = (r: { readonly source: string; readonly reason: string }): string => `${r.source}:${r.reason}`;

/**
 * Every quote Redis holds for the symbol (one round trip with the auto-pipelined client). A key of
 * another type is no quote (its source's problem only); a read Redis did not answer fails the whole.
 */
export async function readPriceQuotes(
  redis: RedisReader,
  symbol: string,
  config?: Pick<PositionBookConfig, 'POSITION_P33_PREFIXES'>,
): Promise<PriceQuote[]> {
  return priceQuotesOf(await sendReadsSettled(redis, priceQuoteReads(symbol, config)));
}

/**
 * A position figure's own mark as a quote, at the figure's time; a figure of no known time is a
 * timeless quote (the book has already dropped figures older than POSITION_MAX_AGE_SEC).
 */
export function positionQuote(position: { readonly markPrice?: number | undefined; readonly asOfMs?: number } | undefined): PriceQuote[] {
  const price = positive(position?.markPrice);
  if (price === undefined) return [];
  const asOfMs = position?.asOfMs;
  return [{ source: 'position', price, asOfMs: asOfMs !== undefined && asOfMs > 0 ? asOfMs : undefined }];
}

/** The bounds a timed quote must lie within to be used. */
export interface QuoteBounds {
  /** Older than this: refused. Default DEFAULT_PRICE_MAX_AGE_SEC. */
  readonly maxAgeSec?: number | undefined;
  /** Stamped further ahead than this: refused (no time it was made). Default DEFAULT_PRICE_MAX_SKEW_SEC. */
  readonly maxSkewSec?: number | undefined;
}

/**
 * Why a timed quote is no quote at `now`, or undefined when it is one. A quote stamped ahead of
 * the clock by more than the skew names no moment it was true: counted as of "now" it would never
 * age and win every comparison of freshness (as a plan stamped ahead is refused, so is it).
 */
export function quoteRefusal(q: PriceQuote, now: number, bounds: QuoteBounds = {}): 'stale' | 'future' | undefined {
  if (q.asOfMs === undefined) return undefined;
  const ageMs = now - q.asOfMs;
  if (ageMs > (bounds.maxAgeSec ?? DEFAULT_PRICE_MAX_AGE_SEC) * 1000) return 'stale';
  if (-ageMs > (bounds.maxSkewSec ?? DEFAULT_PRICE_MAX_SKEW_SEC) * 1000) return 'future';
  return undefined;
}

/** The quotes of `quotes` stamped beyond the skew (quoteRefusal 'future'), for a gate to count and log. */
export function futureQuotes(quotes: readonly PriceQuote[], now: number, bounds: QuoteBounds = {}): PriceQuote[] {
  return quotes.filter((q) => quoteRefusal(q, now, bounds) === 'future');
}

/** Where a gate counts and logs the quotes it refuses: its log and its metrics' quotesRefused counter. */
export interface RefusedQuoteSink {
  readonly log: Logger;
  readonly metrics: { readonly quotesRefused: CounterMetric<'source' | 'reason'> };
}

/** Counts each quote refused as stamped ahead in a gate's counter, by source, and logs it with how far ahead it was. */
export function noteFutureQuotes(symbol: string, refused: readonly PriceQuote[], now: number, ctx: RefusedQuoteSink): void {
  for (const quote of refused) {
    ctx.metrics.quotesRefused.inc({ source: quote.source, reason: 'future' });
    ctx.log.warn(
      { symbol, source: quote.source, price: quote.price, ahead_ms: (quote.asOfMs ?? now) - now },
      'price quote stamped ahead of this clock beyond PRICE_MAX_SKEW_SEC: not used',
    );
  }
}

/**
 * The freshest timed quote within the bounds; else a timeless one (the market state); else
 * undefined. For a figure that reports the market (the heat gate's mark, outcomes); the caps
 * count at highestOf instead.
 */
export function freshestPrice(quotes: readonly PriceQuote[], now: number, bounds: QuoteBounds = {}): PriceQuote | undefined {
  return freshestOf(quotes, NO_QUOTES, now, bounds);
}

const NO_QUOTES: readonly PriceQuote[] = Object.freeze([]);

/**
 * freshestPrice of `first` followed by `then`, without joining them into a new array (a gate
 * prices each plan from its symbol's quotes and its position's own).
 */
export function freshestOf(
  first: readonly PriceQuote[],
  then: readonly PriceQuote[],
  now: number,
  bounds: QuoteBounds = {},
): PriceQuote | undefined {
  const best = freshestTimed(then, freshestTimed(first, undefined, now, bounds), now, bounds);
  return best ?? first.find((q) => q.asOfMs === undefined) ?? then.find((q) => q.asOfMs === undefined);
}

/** `best` or a fresher timed quote of `quotes` (a later one only when strictly fresher). */
function freshestTimed(
  quotes: readonly PriceQuote[],
  best: PriceQuote | undefined,
  now: number,
  bounds: QuoteBounds,
): PriceQuote | undefined {
  for (const q of quotes) {
    if (q.asOfMs === undefined || quoteRefusal(q, now, bounds) !== undefined) continue;
    if (best === undefined || (best.asOfMs ?? 0) < q.asOfMs) best = q;
  }
  return best;
}

/**
 * The highest price of the quotes of `first` and `then` that may be used (timed ones within the
 * bounds, timeless ones always): the figure the governor counts exposure at. No single producer
 * can lower it; a wrong tick, a unit slip or a stamp from the future can only raise it, which
 * blocks opens rather than permitting them (docs/governor.md, "Figures").
 */
export function highestOf(
  first: readonly PriceQuote[],
  then: readonly PriceQuote[],
  now: number,
  bounds: QuoteBounds = {},
): PriceQuote | undefined {
  return highestIn(then, highestIn(first, undefined, now, bounds), now, bounds);
}

/** `best` or a higher usable quote of `quotes` (a later one only when strictly higher). */
function highestIn(quotes: readonly PriceQuote[], best: PriceQuote | undefined, now: number, bounds: QuoteBounds): PriceQuote | undefined {
  for (const q of quotes) {
    if (quoteRefusal(q, now, bounds) !== undefined) continue;
    if (best === undefined || best.price < q.price) best = q;
  }
  return best;
}

/** The bounds a position book's settings give. */
export function quoteBounds(config: Pick<PositionBookConfig, 'PRICE_MAX_AGE_SEC' | 'PRICE_MAX_SKEW_SEC'> | undefined): QuoteBounds {
  return { maxAgeSec: config?.PRICE_MAX_AGE_SEC, maxSkewSec: config?.PRICE_MAX_SKEW_SEC };
}

/** The symbol's mark price by the rule above, or undefined. */
export async function readMarkPrice(
  redis: RedisReader,
  symbol: string,
  now: number,
  config?: Pick<PositionBookConfig, 'POSITION_P33_PREFIXES' | 'PRICE_MAX_AGE_SEC' | 'PRICE_MAX_SKEW_SEC'>,
): Promise<PriceQuote | undefined> {
  return freshestPrice(await readPriceQuotes(redis, symbol, config), now, quoteBounds(config));
}
