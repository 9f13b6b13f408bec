import { epochMs } from '../../domain/epoch.js';
import { sideSign } from '../../domain/side.js';
import * as z from 'zod';
import { defineKeyWatch, isRedisStateRefusal, type KeyWatchDeclaration, type RedisReader } from '../../runtime/contract/index.js';
import { envInt } from '../../schemas/env.js';
import { compareStreamIds, fieldsToRecord, parseNumber } from '../../schemas/fields.js';
import { keys, streams } from '../../schemas/keys.js';
import { positionSnapshotSchema, snapshotAges, snapshotNotional } from '../../schemas/position-snapshot.js';
import { DEFAULT_PRICE_MAX_SKEW_SEC } from './bounds.js';
import {
  foldBook,
  KeptFolds,
  largestExposure,
  largestOf,
  legOf,
  LEGS,
  parseHeldKey,
  SNAPSHOT_LANE,
  sortWords,
  type BookPosition,
  type FigureBounds,
  type HeldLeg,
  type HeldMemory,
  type Lane,
  type LaneWord,
  type Leg,
  type ListingMark,
  type RefusedFigure,
  type SlotWord,
  type UntrustedFigure,
} from './fold.js';
import { heldMemoryOf, listingMarkOf } from './memory.js';
import { refusedKey, replyOf, sendReads, sendReadsSettled, settledReplies, type ReadCommand } from './read-commands.js';

export {
  STAMPED_AHEAD,
  type BookPosition,
  type FigureRefusal,
  type FigureSource,
  type Leg,
  type PositionOrigin,
  type RefusedFigure,
  type UntrustedFigure,
} from './fold.js';

/** P3.3's hash prefixes: the seed era's, and upstream's newest (de25f13cb). */
export const DEFAULT_P33_PREFIXES: readonly string[] = [prefixOf(keys.p33PositionSnapshot), prefixOf(keys.p33StatePositions)];

/**
 * The one position book every gate reads (heat gate, governor, budget engine): this module reads and
 * decodes it; fold.ts (pure) decides it. Its producers' words, each on a symbol and a leg:
 * - our materialised view of quantum:stream:position.snapshot (position-snapshot handler): the
 *   symbol's row and, for entries that name their side, a row per leg;
 * - the snapshot stream's entries that view has not applied yet, so no decision lags the stream;
 * - the Position Ledger's (P3.3) hashes under every prefix of POSITION_P33_PREFIXES (seed era
 *   quantum:position:snapshot:{symbol}, upstream newest quantum:state:positions:{symbol}), found
 *   through the key watch or the index the position-index job keeps (index-job.ts), and directly for
 *   every symbol the book remembers (memory.ts) or the governor watches.
 * Also the book's memory (quantum:gates:positions:held) and the balance tracker's account hash (its
 * rounds), which the fold needs to tell a close from a vanished figure (docs/governor.md "Absence is
 * not flat").
 * Sigma: the largest of the figures' own, quantum:marketstate:{symbol}'s (market state publisher)
 * and quantum:state:market:{symbol}'s.
 * For the governor (loadPositionBook's `withUnpriced`), also every symbol's mark quotes (the
 * governor counts each position at the highest mark of all producers); the other gates read none.
 * What is read is said once (bookReads: the listing, then per symbol the keys, commands and fields)
 * and decoded once (bookReadOf), by one reading (loadPositionBook, readSymbols) whose replies come
 * from the key watch's cache while it is live (a key is sent only when written since its last read)
 * or are sent; the property test in test/integration/position-book-script.test.ts holds the two
 * equal, before and after any write.
 * A listing read Redis refuses (a key of another type, or one the gates' user may not read) is
 * that listing's problem only, as a refused per-symbol read is its symbol's: the book is read
 * without it and names it (PositionBook.unreadableListings); each gate judges what that means.
 */

/** The variables every gate hosting the book understands (the position-snapshot handler's names). */
export const positionBookEnvShape = {
  POSITION_SNAPSHOT_STREAM: z.string().min(1).default(streams.positionSnapshot),
  POSITION_SNAPSHOT_GROUP: z.string().min(1).default('position_snapshot'),
  /** At most this many snapshot entries not yet applied are folded in per read (newest first). */
  POSITION_BOOK_MAX_PENDING: envInt(1000, 1),
  /** Where the Position Ledger (P3.3) writes its hashes, comma-separated: both eras by default. */
  POSITION_P33_PREFIXES: z
    .string()
    .default(DEFAULT_P33_PREFIXES.join(','))
    .transform((list) =>
      list
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== ''),
    )
    .pipe(z.array(z.string()).min(1, 'must name at least one prefix')),
  /**
   * A position figure older than this is no position (its producer stopped reporting it). The
   * balance tracker reports every open position every 30 s (BALANCE_POLL_INTERVAL) and never
   * sends a zero on close; P3.3 rewrites its hashes every 5 s (P33_POLL_SEC) and they live 1 h.
   * 120 s is four missed balance-tracker rounds.
   */
  POSITION_MAX_AGE_SEC: envInt(120, 1),
  /** A price quote older than this is refused (handlers/positions/prices.ts); 30 s is six missed P3.3 rounds. */
  PRICE_MAX_AGE_SEC: envInt(30, 1),
  /** A price quote stamped further ahead of the clock than this is refused (prices.ts); a plan's bound. */
  PRICE_MAX_SKEW_SEC: envInt(5, 0),
};

export interface PositionBookConfig {
  readonly POSITION_SNAPSHOT_STREAM: string;
  readonly POSITION_SNAPSHOT_GROUP: string;
  readonly POSITION_BOOK_MAX_PENDING: number;
  /** Default: DEFAULT_P33_PREFIXES. */
  readonly POSITION_P33_PREFIXES?: readonly string[];
  /** Absent (hand-built configs): figures never age out. */
  readonly POSITION_MAX_AGE_SEC?: number;
  /** Default: DEFAULT_PRICE_MAX_AGE_SEC (handlers/positions/prices.ts). */
  readonly PRICE_MAX_AGE_SEC?: number;
  /** Default: DEFAULT_PRICE_MAX_SKEW_SEC (handlers/positions/prices.ts). */
  readonly PRICE_MAX_SKEW_SEC?: number;
}

/** The prefixes the settings name, or both eras'. */
export function p33Prefixes(config: Pick<PositionBookConfig, 'POSITION_P33_PREFIXES'> | undefined): readonly string[] {
  return config?.POSITION_P33_PREFIXES ?? DEFAULT_P33_PREFIXES;
}

export interface PositionBook {
  /**
   * Open positions (notional ≠ 0), one per symbol, sorted by symbol: of each symbol's fresh
   * figures the one of the largest |notional|, with the largest sigma any of them or the market's
   * two carry. The heat gate and the budget engine count these.
   */
  readonly positions: readonly BookPosition[];
  /**
   * How unapplied snapshots were found: through the position-snapshot group (pending entries and
   * those after its last-delivered id), or, without that group, the stream's newest entries.
   */
  readonly streamRead: 'group' | 'tail' | 'none';
  /** True when more unapplied entries existed than POSITION_BOOK_MAX_PENDING. */
  readonly truncated: boolean;
  /**
   * Figures present but not plain finite numbers, keys Redis refused to read, figures stamped
   * ahead (STAMPED_AHEAD), so a gate that must not decide on untrusted data can say so instead of
   * skipping them.
   */
  readonly untrusted: readonly UntrustedFigure[];
  /**
   * Per symbol, each producer's fresh figure (docs/governor.md "Figures"): flat ones (notional 0,
   * qty 0) and unpriced ones (a quantity, notional 0, no mark) included. The governor sizes each
   * symbol for the caps from these.
   */
  readonly figures: ReadonlyMap<string, readonly BookPosition[]>;
  /** The producers' words the book refused: each one's symbol is of unknown size, not flat. */
  readonly refused: readonly RefusedFigure[];
  /**
   * Per symbol of the book, the replies of priceQuoteReads' reads (prices.ts priceQuotesOf reads
   * them), read in the same moment as the positions: the governor prices every position at the
   * highest of them and its own marks. Empty unless loadPositionBook was asked for quotes.
   */
  readonly quotes: ReadonlyMap<string, readonly (readonly (string | null)[])[]>;
  /**
   * The listing reads Redis refused (an index, the snapshot stream or the portfolio state of another
   * type, or one the gates' user may not read): what they would have listed is not in this book, so
   * the book is incomplete and every figure summed over it is untrusted. The rest was read as usual.
   * Empty when every listing was read.
   */
  readonly unreadableListings: readonly UnreadableListing[];
  /**
   * How P3.3's symbols were listed: by the key watch while it is live (`watched`: the hashes other
   * than a sound flat figure, every write before the read seen), else every P3.3 hash the index lists
   * (`all`: not subscribed yet, reconnecting, keyspace events off, Redis Cluster). The governor's
   * watched symbols (its permitted opens until their fills are in the book) either way.
   */
  readonly p33Listing: 'watched' | 'all';
  /** What the book remembered was held before this read (keys.positionsHeld), and what it remembers after it (fold.ts). */
  readonly remembered: HeldMemory;
  readonly memory: HeldMemory;
  /**
   * The memory's mark on P3.3's listing before this read and after it (fold.ts foldListingMark):
   * while it stands and P3.3 is listed through the index, the index is named in unreadableListings.
   */
  readonly listingMarkRead: ListingMark;
  readonly listingMark: ListingMark;
}

/** The key watch of P3.3's hashes (runtime/contract/key-watch.ts), by the name the book asks it. */
export const P33_KEY_WATCH = 'p33-positions';

/**
 * Every write of a P3.3 hash, seen before the next decision: each changed hash is read (HMGET) and
 * judged by the book's own rule (p33SaysFlat, for that one hash): anything but a sound flat figure
 * must be read by every decision. Gates hosting the book declare it (HandlerDeclaration.keyWatch).
 */
export function p33KeyWatch(
  config: Pick<PositionBookConfig, 'POSITION_P33_PREFIXES' | 'POSITION_MAX_AGE_SEC' | 'PRICE_MAX_SKEW_SEC'>,
): KeyWatchDeclaration {
  const prefixes = p33Prefixes(config);
  const prefixOfKey = (key: string) => prefixes.find((p) => key.startsWith(p)) ?? '';
  return defineKeyWatch({
    name: P33_KEY_WATCH,
    prefixes,
    // The book's other reads, kept until written (loadPositionBook): our view's rows, the market's
    // sigmas and marks, the memory, the tracker's and the portfolio's hashes, and the listings
    // (our view's index, the governor's watched symbols, P3.3's index).
    cached: [
      prefixOf(keys.position),
      prefixOf(keys.marketState),
      prefixOf(keys.marketStatePublished),
      prefixOf(keys.ticker),
      keys.positionsHeld,
      keys.trackerAccount,
      keys.portfolioState,
      keys.activePositions,
      keys.p33Watch,
      keys.p33PositionIndex,
    ],
    read: (key) => ['HMGET', key, ...P33_FIELDS],
    judge(key, reply, now) {
      if (Array.isArray(reply) && reply.every((field) => field === null)) return 'absent';
      const prefix = prefixOfKey(key);
      const symbol = key.slice(prefix.length);
      const one = { ...config, POSITION_P33_PREFIXES: [prefix] };
      return p33SaysFlat(symbol, [reply], { config: one, now }) ? 'skip' : 'read';
    },
  });
}

/** The P3.3 symbols of the key watch's keys (a symbol once, whichever prefixes it is held under). */
function watchedSymbols(watchedKeys: readonly string[], prefixes: readonly string[]): string[] {
  const symbols = new Set<string>();
  for (const key of watchedKeys) {
    const prefix = prefixes.find((p) => key.startsWith(p));
    if (prefix !== undefined) symbols.add(key.slice(prefix.length));
  }
  return [...symbols];
}

/**
 * The book's listing reads, each of one key: our view's index, P3.3's index, the snapshot stream, the
 * portfolio state (equity), the governor's watched symbols.
 */
export type BookListing = 'view' | 'p33' | 'stream' | 'equity' | 'watch' | 'held' | 'tracker';
const BOOK_LISTINGS: readonly BookListing[] = ['view', 'p33', 'stream', 'equity', 'watch', 'held', 'tracker'];

/** The book's memory (keys.positionsHeld) as read: its legs, its mark on P3.3's listing, and the symbols its legs name, each once. */
interface ReadMemory {
  readonly legs: HeldMemory;
  readonly listingMark: ListingMark;
  readonly symbols: readonly string[];
}

/** The memory from HGETALL's reply (an object of its fields), decoded once for a reply the key watch keeps. */
function readMemory(reply: Readonly<Record<string, string>>): ReadMemory {
  return decodedOnce(reply, '', 'memory', undefined, (_, fields) => {
    const flat = Object.entries(fields).flat();
    const symbols = new Set<string>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const held = flat[i + 1] === '' ? undefined : parseHeldKey(flat[i]!);
      if (held !== undefined) symbols.add(held.symbol);
    }
    return { legs: heldMemoryOf(flat), listingMark: listingMarkOf(flat), symbols: [...symbols] };
  });
}

/** A listing read Redis refused: which (the book's, or a gate's own such as the governor's reservations), its key, and Redis's error (WRONGTYPE). */
export interface UnreadableListing {
  readonly listing: BookListing | 'reservations';
  readonly key: string;
  readonly error: string;
}

/**
 * The /ready cause of a gate whose book has unreadable listings (BatchHints.stateFault): each key
 * with Redis's error, and what the gate does meanwhile; undefined when every listing was read.
 */
export function unreadableCause(listings: readonly UnreadableListing[], meanwhile: string): string | undefined {
  if (listings.length === 0) return undefined;
  return `position book: cannot read ${listings.map((u) => `${u.key} (${u.error.slice(0, 120)})`).join(', ')}: ${meanwhile}`;
}

/** Notes `raw` as untrusted when it is present but does not parse; returns the number otherwise. */
function figure(
  untrusted: UntrustedFigure[] | undefined,
  symbol: string,
  field: string,
  raw: string | null | undefined,
): number | undefined {
  const value = parseNumber(raw);
  if (value === undefined && raw !== null && raw !== undefined && untrusted !== undefined)
    untrusted.push({ symbol, field, value: raw.slice(0, 40) });
  return value;
}

export interface BookAndEquity {
  readonly book: PositionBook;
  /** equity_usd of quantum:state:portfolio (read with the book), when asked for. */
  readonly equityRaw: string | undefined;
  /** Its `timestamp` (any epoch unit), when asked for and written. */
  readonly portfolioStampRaw: string | undefined;
}

type Row = (string | null)[];
type Entry = [id: string, fields: string[]];
/** A per-symbol read Redis refused (a key of another type): its symbol, what it was for, its key. */
type Unreadable = [symbol: string, kind: 'position' | 'sigma' | 'quote', key: string];
/** What one read of the book found, by name (bookReadOf's decoding of either path's replies). */
interface BookRead {
  /** equity_usd and timestamp of the portfolio state, when asked for. */
  readonly equity: readonly (string | null)[] | null;
  /** Our view's symbols and their rows (VIEW_FIELDS): the symbol's row, then its LONG and SHORT legs' (LEGS). */
  readonly symbols: readonly string[];
  readonly rows: readonly (readonly Row[])[];
  readonly mode: 'group' | 'tail' | 'none';
  /** The snapshot stream's entries not yet applied (newest first), and each one's symbol's applied id. */
  readonly entries: readonly Entry[];
  readonly applied: readonly string[];
  /** The P3.3 index's symbols and their rows (P33_FIELDS), one per prefix. */
  readonly p33: readonly string[];
  readonly p33rows: readonly (readonly Row[])[];
  /** The symbols sigma (and quotes) were read for, their sigma rows and quote rows. */
  readonly sigmaSymbols: readonly string[];
  /**
   * Of the symbol at `i` of sigmaSymbols, the publisher's (k 0) or the market state's (k 1) sigma,
   * taken (a refusal noted in `unreadable`) when called; undefined where none is read. mergeBook
   * calls it where it needs a sigma; the reading may have left the others unread (SymbolRead.needless).
   */
  readonly sigma: (i: number, k: 0 | 1) => string | null | undefined;
  /** In priceQuoteReads' order ([price, time] each), or none without unpriced positions. */
  readonly quoteRows: readonly (readonly Row[])[];
  readonly unreadable: readonly Unreadable[];
  /** The listing reads Redis refused (PositionBook.unreadableListings). */
  readonly unreadableListings: readonly UnreadableListing[];
  /** The book's memory as read (keys.positionsHeld). */
  readonly memory: ReadonlyMap<string, HeldLeg>;
  /** Its mark on P3.3's listing as read (memory.ts listingMarkOf). */
  readonly listingMark: ListingMark;
  /** How P3.3's symbols were listed (PositionBook.p33Listing). */
  readonly p33Listing: PositionBook['p33Listing'];
  /** The balance tracker's account hash's timestamp (any epoch unit), when written. */
  readonly trackerStamp: string | null;
}

/** The fields of a view row, in this order. */
const VIEW_FIELDS = ['position_notional_usd', 'sigma', 'qty', 'mark_price', 'updated_at', 'volatility', 'side'] as const;

/** Fields read from each P3.3 hash, in this order (the book and readP33Position alike). */
const P33_FIELDS = ['position_amt', 'mark_price', 'ts_epoch', 'position_notional_usd', 'sigma', 'side'] as const;
const NO_P33_ROW: Row = P33_FIELDS.map(() => null);
const NO_PAIR: Row = [null, null];
const NO_ROW: Row = [];
const NO_ROWS: readonly Row[] = [];

/**
 * [mark, time] of a P3.3 row, made once for each row (kept with it, as decodedOnce's): a symbol's
 * quotes take one from each of its P3.3 rows at every read, 2,000 arrays at 1,000 held.
 */
const p33Pairs = new WeakMap<Row, Row>();
function p33Pair(row: Row | undefined): Row {
  if (row === undefined) return NO_PAIR;
  let pair = p33Pairs.get(row);
  if (pair === undefined) p33Pairs.set(row, (pair = [row[1] ?? null, row[2] ?? null]));
  return pair;
}

/** The prefix a key function puts before the symbol. */
function prefixOf(keyOf: (symbol: string) => string): string {
  return keyOf('');
}

/**
 * Whose symbols a read is made for: our view index's, P3.3's index's, the unapplied entries', or
 * the book's (all three, each once, in that order).
 */
type SymbolList = 'view' | 'p33' | 'entries' | 'book' | 'held';
/** A read made for each symbol of a list, of the key prefix + symbol. */
interface SymbolRead {
  readonly over: SymbolList;
  readonly read: readonly [command: 'GET' | 'HGET' | 'HMGET', prefix: string, ...args: string[]];
  /** Put after the symbol in the key (a leg's row: `:LONG`), else nothing. */
  readonly suffix?: string;
  /**
   * Where the reading may leave it unread (readSymbols): for a symbol one of
   * whose keys prefix + symbol it has read already (Needless). What such a read would have said is
   * what bookReadOf reads without it.
   */
  readonly needless?: readonly Needless[];
}

/**
 * A read readSymbols may skip for a symbol: once it has read `read` + symbol (an earlier read of the
 * same list), if that reply holds figures that surely read as numbers at every place of `numbers`,
 * something at every place of `present` and nothing at every place of `absent` (a reply's places
 * from 0; a reply of one value is a row of one).
 */
interface Needless {
  readonly read: string;
  readonly numbers?: readonly number[];
  readonly present?: readonly number[];
  readonly absent?: readonly number[];
}

/**
 * What the book reads per symbol after its listing (equity, the two indexes, the stream's
 * unapplied entries), grouped as bookReadOf decodes them; both paths run these reads, in this order.
 * Sigma and quotes are read for every symbol of the book (but what readSymbols finds needless);
 * bookReadOf uses those of the symbols it holds (a P3.3 index entry whose hash has expired holds
 * nothing) and, with allP33Quotes, P3.3's marks only of symbols outside P3.3's index (the index's
 * own rows carry them).
 */
function bookReads(
  prefixes: readonly string[],
  { withUnpriced, allP33Quotes, withMarketSigma }: Required<Pick<BookReadOptions, 'withUnpriced' | 'allP33Quotes' | 'withMarketSigma'>>,
): Record<BookReadGroup, SymbolRead[]> {
  const [view, published, marketState] = [prefixOf(keys.position), prefixOf(keys.marketStatePublished), prefixOf(keys.marketState)];
  // The market's two sigmas are read for every symbol, a view row's own sigma or not: the largest of all counts.
  return {
    // A leg's row is written only beside a symbol's row that names its side (position-snapshot,
    // which removes both legs' rows when it writes a symbol's row of no side): a symbol's row
    // without a side says its symbol has no leg rows. Read when the symbol's row is absent.
    view: [
      { over: 'view', read: ['HMGET', view, ...VIEW_FIELDS] },
      ...LEGS.map((leg): SymbolRead => ({
        over: 'view',
        read: ['HMGET', view, ...VIEW_FIELDS],
        suffix: `:${leg}`,
        needless: [{ read: view, present: [VIEW_FIELDS.indexOf('updated_at')], absent: [VIEW_FIELDS.indexOf('side')] }],
      })),
    ],
    p33: prefixes.map((p) => ({ over: 'p33', read: ['HMGET', p, ...P33_FIELDS] })),
    sigma: !withMarketSigma
      ? []
      : [
          { over: 'book', read: ['HGET', published, 'sigma'] },
          { over: 'book', read: ['HGET', marketState, 'sigma'] },
        ],
    // In priceQuoteReads' order: market state, ticker, then P3.3's under each prefix (but from the
    // P3.3 row of a symbol P3.3's index lists).
    quotes: !withUnpriced
      ? []
      : [
          { over: 'book', read: ['HMGET', marketState, 'mark_price', 'timestamp'] },
          { over: 'book', read: ['HMGET', prefixOf(keys.ticker), 'markPrice', 'timestamp'] },
          ...(allP33Quotes
            ? prefixes.map((p): SymbolRead => ({ over: 'book', read: ['HMGET', p, 'mark_price', 'ts_epoch'], needless: [{ read: p }] }))
            : []),
        ],
  };
}
/** The groups of bookReads in the order both paths send them and bookReadOf takes their replies. */
const BOOK_READ_GROUPS = ['view', 'p33', 'sigma', 'quotes'] as const;
type BookReadGroup = (typeof BOOK_READ_GROUPS)[number];

/** What either path answers: the listing, the symbol lists, and per read of bookReads per symbol of its list, its reply or Redis's refusal. */
interface ListedReplies {
  /** equity_usd and timestamp of the portfolio state, when asked for. */
  readonly equity: readonly (string | null)[] | null;
  readonly mode: BookRead['mode'];
  readonly entries: readonly Entry[];
  readonly lists: Readonly<Record<SymbolList, readonly string[]>>;
  readonly replies: readonly (readonly unknown[])[];
  /** Per symbol of the entries, its applied id (GET), or Redis's refusal of it. */
  readonly appliedIds: readonly unknown[];
  /** The listing reads Redis refused: [listing, key, error]. */
  readonly refusedListings: readonly (readonly [listing: string, key: string, error: string])[];
  readonly p33Listing: PositionBook['p33Listing'];
  /** The book's memory (keys.positionsHeld). */
  readonly memory: ReadMemory;
  /** The balance tracker's account hash's timestamp. */
  readonly tracker: string | null;
}

/** What a read of the book brings besides the positions. */
export interface BookReadOptions {
  /** Also equity_usd of quantum:state:portfolio, in the same read. */
  readonly withEquity?: boolean;
  /** The clock figures are aged against (POSITION_MAX_AGE_SEC): the caller's, as every decision's. */
  readonly now: number;
  /** Also every symbol's price quotes (PositionBook.quotes). */
  readonly withUnpriced?: boolean;
  /** With `withUnpriced`: a symbol's P3.3 marks even where the P3.3 index does not list it, as readPriceQuotes reads them. */
  readonly allP33Quotes?: boolean;
  /**
   * Also the market's two sigmas of every held symbol (default true): a position's sigma is the
   * largest of its figures' and these. False for a reader that counts no sigma (the governor sizes
   * by notional and slots): its positions carry their figures' own sigma only.
   */
  readonly withMarketSigma?: boolean;
}

/**
 * Reads the book (and what `options` ask for), in the order that makes it whole without one atomic
 * moment (docs/architecture.md "Consistency"):
 * 1. the snapshot stream's unapplied entries, then their symbols' applied ids, then our view's
 *    index: a snapshot applied after the entries were listed is among them, and one found applied
 *    was applied before the index (and the rows, read later still) was read;
 * 2. the key watch's barrier (keysToRead), beside the entries' read when none is listed, else after
 *    the applied ids: every write before it, P3.3's and every cached key's, is
 *    seen from here on;
 * 3. the memory, the tracker's stamp and equity, then each symbol's reads (readSymbols): through the
 *    key watch's cache while it is live (only keys written since their last read are sent), else
 *    sent. A reply is never older than the barrier, so never older than the message.
 */
export async function loadPositionBook(redis: RedisReader, config: PositionBookConfig, options: BookReadOptions): Promise<BookAndEquity> {
  const { withEquity = false, now, withUnpriced = false, allP33Quotes = false, withMarketSigma = true } = options;
  const prefixes = p33Prefixes(config);
  const reads = bookReads(prefixes, { withUnpriced, allP33Quotes, withMarketSigma });
  const refusedListings: RefusedListing[] = [];
  const barrier = async () => (await redis.keysToRead?.(P33_KEY_WATCH)) ?? null;
  const { mode, entries, entrySymbols, appliedIds, watchedKeys } = await readListing(redis, config, refusedListings, barrier);
  // Kept replies only past a live barrier (cachedReads answers null otherwise).
  const read = (sent: readonly ReadCommand[]) => readWatched(redis, sent);
  const equityKey = withEquity ? keys.portfolioState : '';
  // Our view's index, the governor's watched symbols and P3.3's index: written when a position
  // opens or closes, not at every decision, so kept like the rows they list (p33KeyWatch).
  const [viewReply, watchReply, p33IndexReply, memoryReply, trackerReply, equityReply] = await read([
    ['SMEMBERS', keys.activePositions],
    ['ZRANGEBYSCORE', keys.p33Watch, '-inf', '+inf'],
    // The index is read even when no symbol is looked up in it: an open's permit adds to it
    // (record.ts), so one of another type must block the open here, not be refused in its commit.
    ['SISMEMBER', keys.p33PositionIndex, ''],
    ['HGETALL', keys.positionsHeld],
    ['HMGET', keys.trackerAccount, 'timestamp'],
    ...(withEquity ? [['HMGET', equityKey, 'equity_usd', 'timestamp'] as const] : []),
  ]);
  const listed = <T>(name: BookListing, key: string, reply: unknown, none: T): T => {
    if (!(reply instanceof Error)) return (reply ?? none) as T;
    refusedListings.push([name, key, reply.message]);
    return none;
  };
  const view = listed<string[]>('view', keys.activePositions, viewReply, []);
  const governorWatch = listed<string[]>('watch', keys.p33Watch, watchReply, []);
  listed('p33', keys.p33PositionIndex, p33IndexReply, 0);
  const memory = readMemory(listed<Record<string, string>>('held', keys.positionsHeld, memoryReply, {}));
  const tracker = listed<(string | null)[]>('tracker', keys.trackerAccount, trackerReply, [null])[0] ?? null;
  const equity = withEquity ? listed<(string | null)[] | null>('equity', equityKey, equityReply, null) : null;
  // Without the key watch, every symbol P3.3's index lists (a flat universe's too).
  const p33Listed =
    watchedKeys === null
      ? await listing(refusedListings, 'p33', keys.p33PositionIndex, redis.smembers(keys.p33PositionIndex), [])
      : watchedSymbols(watchedKeys, prefixes);
  const held = memory.symbols;
  // P3.3's word is read for every symbol another producer or the memory names, and those the
  // governor watches: a flat hash's mark prices another producer's position, and a remembered
  // symbol's vanished hash must be seen vanished.
  const p33 = [...new Set([...p33Listed, ...view, ...entrySymbols, ...governorWatch, ...held])];
  const lists: Readonly<Record<SymbolList, readonly string[]>> = {
    view,
    p33,
    entries: entrySymbols,
    book: [...new Set([...view, ...entrySymbols, ...p33])],
    held,
  };
  const replies = await readSymbols(
    BOOK_READ_GROUPS.flatMap((group) => reads[group]),
    lists,
    read,
  );
  // A read refused for Redis's state (an ACL) is no key's problem: the message is held until Redis serves it.
  settledReplies(refusedListings.map(([, , error]) => new Error(error)));
  const p33Listing = watchedKeys === null ? 'all' : 'watched';
  // A P3.3 symbol whose hashes say nothing but flat holds nothing: its quotes and sigma are no input
  // of any decision (so a flat universe read through every hash decides as read through the held index).
  const bookRead = bookReadOf(
    { equity, mode, entries, lists, replies, appliedIds, refusedListings, p33Listing, memory, tracker },
    reads,
    (symbol, rows) => !p33SaysFlat(symbol, rows, { config, now }),
  );
  const { p33IncompleteSinceMs, ...merged } = mergeBook(bookRead, config.POSITION_BOOK_MAX_PENDING, prefixes, figureBounds(config, now));
  return {
    book: {
      ...merged,
      unreadableListings:
        p33IncompleteSinceMs === undefined
          ? bookRead.unreadableListings
          : [...bookRead.unreadableListings, { listing: 'p33', key: keys.p33PositionIndex, error: p33Incomplete(p33IncompleteSinceMs) }],
      p33Listing,
    },
    equityRaw: equity?.[0] ?? undefined,
    portfolioStampRaw: equity?.[1] ?? undefined,
  };
}

/**
 * `reads` of keys the book's key watch follows (marks, sigmas, P3.3's hashes: p33KeyWatch), each
 * reply in its place (a key's refusal an Error there): through the watch's kept replies after the
 * barrier of a read of the book in this decision, else sent.
 */
export async function readWatched(redis: RedisReader, reads: readonly ReadCommand[]): Promise<unknown[]> {
  if (reads.length === 0) return [];
  return (await redis.cachedReads?.(P33_KEY_WATCH, reads)) ?? (await sendReadsSettled(redis, reads));
}

/**
 * Why P3.3's index, read, still leaves the book incomplete (fold.ts foldListingMark; the mark is the
 * memory's field memory.ts P33_UNREADABLE_FIELD): an UnreadableListing's error, so every gate judges
 * it as the refusal it follows.
 */
function p33Incomplete(sinceMs: number): string {
  const since = sinceMs > 0 ? new Date(sinceMs).toISOString() : 'a time no one can read';
  // Within unreadableCause's 120 characters; the mark is the memory's field P33_UNREADABLE_FIELD.
  return `incomplete: unreadable at ${since}, not listed whole since (awaits an index refresh or key watch)`;
}

/** A listing read Redis refused: [listing, key, error]. */
type RefusedListing = [listing: BookListing, key: string, error: string];

/** A listing read: a refusal of its key is noted and read as `none` (that listing's problem only); any other failure is the read's. */
function listing<T>(refused: RefusedListing[], name: BookListing, key: string, read: Promise<T>, none: T): Promise<T> {
  return read.catch((error: unknown) => {
    if (!refusedKey(error)) throw error;
    refused.push([name, key, error.message]);
    return none;
  });
}

/**
 * The stream's unapplied entries (through the position-snapshot group: its pending ones, then those
 * after its last-delivered id; without that group the newest; without the stream none), then, sent
 * in this order in one round, their symbols' applied ids and our view's index: loadPositionBook says
 * why the order. With no entries, the index read beside the stream's stands (no snapshot the
 * stream missed was applied between them). Also the governor's watched symbols and P3.3's index's type.
 */
async function readListing(
  redis: RedisReader,
  config: PositionBookConfig,
  refused: RefusedListing[],
  barrier: () => Promise<readonly string[] | null>,
): Promise<{
  watchedKeys: readonly string[] | null;
  mode: BookRead['mode'];
  entries: Entry[];
  entrySymbols: string[];
  appliedIds: unknown[];
}> {
  const stream = config.POSITION_SNAPSHOT_STREAM;
  let mode: BookRead['mode'] = 'none';
  let start = '-';
  try {
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    mode = 'tail';
    for (const g of groups) {
      const info = fieldsToRecord(g.map(String));
      if (info.name !== config.POSITION_SNAPSHOT_GROUP) continue;
      mode = 'group';
      start = `(${info['last-delivered-id']}`;
      // The lowest pending id; none once they were all acknowledged since XINFO (applied: in the view, read after).
      if (Number(info.pending) > 0)
        start = ((await redis.xpending(stream, config.POSITION_SNAPSHOT_GROUP)) as [number, string | null])[1] ?? start;
    }
  } catch (error) {
    // A refusal that is Redis's state is no answer about the stream: the read fails, the message is held.
    if (isRedisStateRefusal(error)) throw error;
    mode = 'none';
    if (refusedKey(error)) refused.push(['stream', stream, error.message]);
    // Else no stream ("no such key"): nothing to fold in; a failure of another kind is the read's.
    else if (!(error instanceof Error && /no such key/i.test(error.message))) throw error;
  }
  // Beside the entries' read: passed after XINFO, so with no entry listed no snapshot was applied
  // after it that a row read (or kept) after this barrier could miss (loadPositionBook).
  const [firstWatched, entries] = await Promise.all([
    barrier(),
    mode === 'none'
      ? []
      : listing(refused, 'stream', stream, redis.xrevrange(stream, '+', start, 'COUNT', config.POSITION_BOOK_MAX_PENDING + 1), []),
  ]);
  const entrySymbols = [...new Set(entries.map(([, f]) => fieldsToRecord(f).symbol ?? ''))].filter((s) => s !== '');
  if (entrySymbols.length === 0) return { watchedKeys: firstWatched, mode, entries, entrySymbols, appliedIds: [] };
  const appliedIds = await sendReadsSettled(
    redis,
    entrySymbols.map((symbol): ReadCommand => ['GET', keys.positionAppliedId(symbol)]),
  );
  // A snapshot found applied may have written its row after the first barrier: another, after this
  // read, before the view's index and rows are read (or answered from what is kept).
  return { watchedKeys: await barrier(), mode, entries, entrySymbols, appliedIds };
}

/**
 * Each read of `plans` for each symbol of its list, through `read` (in its place: its reply, or its
 * key's refusal as an Error). Reads another may make needless (SymbolRead.needless) go second, and
 * only where the first's replies leave them needed; a needless one is null in its place.
 */
async function readSymbols(
  plans: readonly SymbolRead[],
  lists: Readonly<Record<SymbolList, readonly string[]>>,
  read: (sent: readonly ReadCommand[]) => Promise<unknown[]>,
): Promise<unknown[][]> {
  const replies: unknown[][] = plans.map(() => []);
  // A first read's replies (no suffix) by its key prefix, then symbol: of the reads a needless clause names.
  const named = new Set(plans.flatMap((plan) => plan.needless?.map((clause) => clause.read) ?? []));
  const firstReplies = new Map<string, Map<string, unknown>>();
  for (const second of [false, true]) {
    const sent: ReadCommand[] = [];
    const taking = (plan: SymbolRead) => (plan.needless !== undefined) === second;
    plans.forEach((plan, r) => {
      if (!taking(plan)) return;
      const list = lists[plan.over];
      const commands = readCommandsOf(plan);
      for (let at = 0; at < list.length; at++) {
        const symbol = list[at]!;
        if (plan.needless !== undefined && anyNeedless(plan.needless, firstReplies, symbol)) replies[r]![at] = null;
        else sent.push(commands(symbol));
      }
    });
    // Each reply to its place, walked as `sent` was made: the places left empty, in order (a
    // needless read's is null already; a reply is never undefined).
    const got = await read(sent);
    let j = 0;
    plans.forEach((plan, r) => {
      if (!taking(plan)) return;
      const list = lists[plan.over];
      const keep = !second && plan.suffix === undefined && named.has(plan.read[1]);
      const bySymbol = keep ? (firstReplies.get(plan.read[1]) ?? new Map<string, unknown>()) : undefined;
      for (let at = 0; at < list.length; at++) {
        if (replies[r]![at] === null) continue;
        const reply = (replies[r]![at] = got[j++]);
        bySymbol?.set(list[at]!, reply);
      }
      if (bySymbol !== undefined) firstReplies.set(plan.read[1], bySymbol);
    });
  }
  return replies;
}

/** Whether one of `needless`'s clauses holds for `symbol` (its read's reply among `firstReplies`). */
function anyNeedless(
  needless: readonly Needless[],
  firstReplies: ReadonlyMap<string, ReadonlyMap<string, unknown>>,
  symbol: string,
): boolean {
  for (const clause of needless) if (isNeedless(firstReplies.get(clause.read)?.get(symbol), clause)) return true;
  return false;
}

/**
 * What the book makes again at every read of a large book unless it keeps it, each kept thing shared
 * and never changed:
 * - `commands`: its read commands, each made once for its plan and symbol: at 1,000 held a book read
 *   sends ~7,000 reads, and making them anew, with their keys, was about a fifth of what a decision
 *   allocated (`npx tsx bench/book-allocations.ts`). A plan's go all at once past MAX_KEPT_COMMANDS
 *   symbols (a universe churning);
 * - `decoded`: what a reply decodes to (decodedOnce), with the reply: the key watch keeps a reply
 *   until its key is written, so a reply read again is the same object and its decoding the same;
 * - `folds`: each symbol's fold (fold.ts KeptFolds), which those same decodings let it find alike.
 */
const kept = {
  commands: new Map<string, Map<string, ReadCommand>>(),
  decoded: new WeakMap<object, { readonly symbol: string; readonly part: string; readonly value: unknown }>(),
  folds: new KeptFolds(),
};
const MAX_KEPT_COMMANDS = 20_000;

/**
 * `decode(symbol, reply, arg)`, a function of `reply` (a symbol's, as its `part`: a lane, a leg's
 * row) alone: once for each reply object, then kept with it (and gone with it). A reply shared by
 * several (a constant empty row) is decoded each time. `decode` is given what it needs rather than
 * closing over it: ~3,000 rows a read at 1,000 held, each a closure made only to be dropped.
 */
function decodedOnce<R, A, T>(reply: R, symbol: string, part: string, arg: A, decode: (symbol: string, reply: R, arg: A) => T): T {
  // An empty row stands for every read that found nothing: nothing to keep it for.
  if (typeof reply !== 'object' || reply === null || (Array.isArray(reply) && reply.length === 0)) return decode(symbol, reply, arg);
  const found = kept.decoded.get(reply);
  if (found !== undefined && found.symbol === symbol && found.part === part) return found.value as T;
  const value = decode(symbol, reply, arg);
  kept.decoded.set(reply, { symbol, part, value });
  return value;
}

function readCommandsOf({ read: [command, prefix, ...args], suffix = '' }: SymbolRead): (symbol: string) => ReadCommand {
  const signature = [suffix, command, prefix, ...args].join('\u0000');
  let made = kept.commands.get(signature);
  if (made === undefined || made.size > MAX_KEPT_COMMANDS) kept.commands.set(signature, (made = new Map()));
  return (symbol) => {
    let one = made.get(symbol);
    if (one === undefined) made.set(symbol, (one = [command, prefix + symbol + suffix, ...args]));
    return one;
  };
}

/** Each symbol's place in `symbols` (made without a pair for each: a book's lists are ~1,000 long at 1,000 held). */
function placesOf(symbols: readonly string[]): Map<string, number> {
  const places = new Map<string, number>();
  for (let at = 0; at < symbols.length; at++) places.set(symbols[at]!, at);
  return places;
}

/** Whether `reply` (of the read a clause names; undefined: not read) meets the clause (Needless). */
function isNeedless(reply: unknown, { numbers, present, absent }: Needless): boolean {
  if (reply === undefined) return false;
  // Loops, not closures: asked for each symbol of a needless read, ~3,000 times a book read at 1,000 held.
  const readable = Array.isArray(reply) || typeof reply === 'string';
  for (const k of numbers ?? NO_PLACES) {
    const text = String(placeOf(reply, k));
    if (!SURELY_A_NUMBER.test(text) || text.length > 20) return false;
  }
  for (const k of present ?? NO_PLACES) if (!readable || placeOf(reply, k) === null) return false;
  for (const k of absent ?? NO_PLACES) if (!readable || placeOf(reply, k) !== null) return false;
  return true;
}

/** A reply's value at place `k` (a reply of one value is a row of one), null where none. */
function placeOf(reply: unknown, k: number): unknown {
  if (Array.isArray(reply)) return (reply as unknown[])[k] ?? null;
  return typeof reply === 'string' && k === 0 ? reply : null;
}

const NO_PLACES: readonly number[] = [];

/** Surely a number by the readers' rule (domain/number.ts): plain digits, short enough to be finite. */
const SURELY_A_NUMBER = /^-?\d+\.?\d*$/;

/**
 * Either path's replies by name: the one place they are decoded. A refused key is `unreadable`
 * (its symbol's problem only) where its reply is taken (sigma's: where mergeBook needs it), or, for
 * an applied id, the whole read's error. A refused listing read (an index, the stream, equity) is
 * `unreadableListings`, that listing's problem only: the others' symbols are read as ever.
 */
function bookReadOf(
  { equity, mode, entries, lists, replies, appliedIds, refusedListings, memory, tracker, p33Listing }: ListedReplies,
  reads: Record<BookReadGroup, SymbolRead[]>,
  p33Holds: (symbol: string, rows: readonly Row[]) => boolean,
): BookRead {
  const unreadable: Unreadable[] = [];
  let next = 0;
  /** Each read of a group as: the reply for the symbol at `at` of its list, or `none` (absent or refused). */
  const take = (group: readonly SymbolRead[], kind?: Unreadable[1]) =>
    group.map(({ over, read: [, prefix], suffix = '' }) => {
      const got = replies[next++] ?? [];
      return <T>(at: number, none: T): T => {
        const reply = got[at];
        if (!(reply instanceof Error)) return (reply ?? none) as T;
        if (kind === undefined) throw reply;
        unreadable.push([lists[over][at]!, kind, prefix + lists[over][at] + suffix]);
        return none;
      };
    });
  // In BOOK_READ_GROUPS' order.
  const [viewRows, p33Reads, sigmaReads, quoteReads] = [
    take(reads.view, 'position'),
    take(reads.p33, 'position'),
    take(reads.sigma, 'sigma'),
    take(reads.quotes, 'quote'),
  ];
  const rows = lists.view.map((_, at) => viewRows.map((row) => row<Row>(at, NO_ROW)));
  // An applied id Redis refused says nothing of which snapshots the view holds: the whole read fails.
  const appliedOf = new Map(lists.entries.map((s, at) => [s, replyOf<string | null>(appliedIds[at]) ?? '']));
  const applied = entries.map(([, f]) => appliedOf.get(fieldsToRecord(f).symbol ?? '') ?? '');
  const p33rows = lists.p33.map((_, at) => p33Reads.map((read) => read<Row>(at, NO_P33_ROW)));
  // The book's symbols that hold something: P3.3's index may list a symbol whose hash has expired or is flat.
  const held = lists.p33.filter((symbol, at) => p33Holds(symbol, p33rows[at]!));
  const holding = new Set([...lists.view, ...lists.entries, ...held]);
  // The holding symbols and their places in the book's list, over which sigma and quotes are read.
  const sigmaSymbols: string[] = [];
  const sigmaAt: number[] = [];
  lists.book.forEach((symbol, at) => {
    if (!holding.has(symbol)) return;
    sigmaSymbols.push(symbol);
    sigmaAt.push(at);
  });
  const p33At = placesOf(lists.p33);
  return {
    equity,
    symbols: lists.view,
    rows,
    mode,
    entries,
    applied,
    p33: lists.p33,
    p33rows,
    sigmaSymbols,
    sigma: (i, k) => sigmaReads[k]?.<string | null>(sigmaAt[i]!, null),
    // P3.3's mark and time of a symbol P3.3's index lists from its P3.3 rows, else (allP33Quotes) its own reads.
    quoteRows: sigmaAt.map((at, i) => {
      if (quoteReads.length === 0) return NO_ROWS;
      const rows = p33rows[p33At.get(sigmaSymbols[i]!) ?? -1];
      const quotes = [quoteReads[0]!<Row>(at, NO_PAIR), quoteReads[1]!<Row>(at, NO_PAIR)];
      for (let k = 0; k < p33Reads.length; k++) quotes.push(rows ? p33Pair(rows[k]) : (quoteReads[2 + k]?.<Row>(at, NO_PAIR) ?? NO_PAIR));
      return quotes;
    }),
    unreadable,
    memory: memory.legs,
    listingMark: memory.listingMark,
    p33Listing,
    trackerStamp: tracker,
    // Each refused listing once (the stream's reads may refuse it twice), by its name.
    unreadableListings: BOOK_LISTINGS.flatMap((name) => {
      const refused = refusedListings.find(([listing]) => listing === name);
      return refused === undefined ? [] : [{ listing: name, key: refused[1], error: String(refused[2]) }];
    }),
  };
}

/**
 * Every producer's word per symbol and leg (our view superseded by the stream's unapplied entries,
 * and P3.3's hash under each prefix), decoded into slot words and folded (fold.ts) with the memory.
 */
function mergeBook(
  read: BookRead,
  bound: number,
  prefixes: readonly string[],
  bounds: FigureBounds,
): Omit<PositionBook, 'unreadableListings' | 'p33Listing'> & { readonly p33IncompleteSinceMs: number | undefined } {
  const { symbols, rows, mode, entries: rawEntries, applied, p33, p33rows, sigmaSymbols, sigma, quoteRows, unreadable } = read;
  const untrusted: UntrustedFigure[] = [];
  const words: SlotWord[] = [];
  const say = (symbol: string, lane: Lane, slot: Leg | '*', word: LaneWord) => words.push({ symbol, lane, slot, word });

  symbols.forEach((symbol, i) =>
    (rows[i] ?? []).forEach((row, k) => {
      const decoded = decodedOnce(row, symbol, VIEW_ROW_PARTS[k]!, k, viewWord);
      for (const u of decoded.untrusted) untrusted.push(u);
      if (decoded.word !== undefined) say(symbol, SNAPSHOT_LANE, decoded.slot, decoded.word);
    }),
  );

  // Newest first, bounded; an entry at or before the symbol's applied id is already in the view.
  // The newest unapplied entry of a symbol's leg is the stream's word on it, replacing the view's;
  // an entry without a side (the seeds') is the word on the whole symbol.
  const entries = rawEntries.slice(0, bound);
  const folded = new Set<string>();
  const fold = (symbol: string, slot: Leg | '*') => {
    const taken =
      slot === '*' ? [...folded].some((f) => f.startsWith(`${symbol}|`)) : folded.has(`${symbol}|${slot}`) || folded.has(`${symbol}|*`);
    if (!taken) folded.add(`${symbol}|${slot}`);
    return !taken;
  };
  entries.forEach(([id, flat], i) => {
    const appliedId = applied[i] ?? '';
    if (appliedId !== '' && compareStreamIds(id, appliedId) <= 0) return;
    const fields = fieldsToRecord(flat);
    const parsed = positionSnapshotSchema.safeParse(fields);
    if (!parsed.success) {
      // The newest snapshot of a symbol has a figure that is no number (position-snapshot
      // dead-letters it): until then the symbol's figure is unknown.
      const symbol = fields.symbol;
      if (symbol === undefined || !fold(symbol, '*')) return;
      for (const issue of parsed.error.issues) {
        const field = String(issue.path[0] ?? '');
        if (field !== 'symbol') untrusted.push({ symbol, field, value: (fields[field] ?? '').slice(0, 40) });
      }
      return say(symbol, SNAPSHOT_LANE, '*', { refused: { symbol, source: 'snapshot', reason: 'unparsable', key: streamKey(id) } });
    }
    const snapshot = parsed.data;
    const notionalUsd = snapshotNotional(snapshot);
    const slot = legOf(snapshot.side, undefined) ?? '*';
    if (!fold(snapshot.symbol, slot)) return;
    const qty = snapshot.qty ?? snapshot.position_qty;
    const signedQty = notionalUsd === 0 ? signedBySide(qty, snapshot.side) : qty;
    say(snapshot.symbol, SNAPSHOT_LANE, slot, {
      key: streamKey(id),
      figure: {
        symbol: snapshot.symbol,
        leg: legOf(snapshot.side, notionalUsd || signedQty),
        notionalUsd,
        sigma: snapshot.sigma ?? snapshot.volatility,
        qty: signedQty,
        markPrice: positiveOrNone(snapshot.mark_price),
        asOfMs: Number.parseInt(id, 10),
        origin: 'stream',
        ages: snapshotAges(snapshot),
      },
    });
  });

  p33.forEach((symbol, i) =>
    (p33rows[i] ?? []).forEach((row, k) => {
      const word = p33WordOnce(symbol, prefixes[k]!, row, untrusted);
      if (word !== undefined) say(symbol, prefixes[k]!, '*', word);
    }),
  );

  // A position key Redis refuses to read: that producer's word on the symbol is unknown. (A
  // refused sigma or quote is untrusted below, once the positions have taken their sigma reads.)
  for (const [symbol, kind, key] of unreadable) {
    if (kind !== 'position') continue;
    untrusted.push({ symbol, field: `unreadable_${kind}`, value: key });
    const prefix = prefixes.find((p) => p + symbol === key);
    say(symbol, prefix ?? SNAPSHOT_LANE, '*', {
      refused: { symbol, source: prefix === undefined ? 'snapshot' : 'p33', reason: 'unreadable', key },
    });
  }

  const sigmaAt = placesOf(sigmaSymbols);
  const trackerStamp = parseNumber(read.trackerStamp);
  const trackerMs = trackerStamp === undefined ? undefined : epochMs(trackerStamp);
  const folded_ = foldBook(
    {
      words,
      memory: read.memory,
      listingMark: read.listingMark,
      p33Listing: { from: read.p33Listing, refused: read.unreadableListings.some((u) => u.listing === 'p33') },
      evidence: { trackerRoundMs: trackerMs },
      bounds,
      marketSigma: (symbol) => marketSigma(symbol, sigmaAt.get(symbol), sigma, untrusted),
      laneKey: (lane, symbol) => (lane === SNAPSHOT_LANE ? keys.position(symbol) : lane + symbol),
    },
    kept.folds,
  );
  // A refused sigma or quote read (taken by now: a sigma where a position needed it) leaves its
  // symbol's others unchecked, however many remain: untrusted, never read as no sigma.
  for (const [symbol, kind, key] of unreadable)
    if (kind !== 'position') untrusted.push({ symbol, field: `unreadable_${kind}`, value: key });
  const quotes = new Map<string, readonly Row[]>();
  sigmaSymbols.forEach((symbol, i) => {
    if (quoteRows[i]!.length > 0) quotes.set(symbol, quoteRows[i]!);
  });
  return {
    positions: folded_.positions,
    streamRead: mode,
    truncated: rawEntries.length > bound,
    untrusted: [...untrusted, ...folded_.untrusted],
    figures: folded_.figures,
    refused: folded_.refused,
    quotes,
    memory: folded_.memory,
    remembered: read.memory,
    listingMark: folded_.listingMark,
    listingMarkRead: read.listingMark,
    p33IncompleteSinceMs: folded_.p33IncompleteSinceMs,
  };
}

/** A view row's part of its symbol (decodedOnce): the symbol's row, then its legs' (LEGS). */
const VIEW_ROW_PARTS: readonly string[] = ['view', ...LEGS.map((leg) => `view:${leg}`)];

/** What one row of our view says (its words decoded; `untrusted`: its figures present but no number). */
interface ViewRowWord {
  readonly slot: Leg | '*';
  readonly word: LaneWord | undefined;
  readonly untrusted: readonly UntrustedFigure[];
}

/** Our view's row `k` of `symbol` (VIEW_FIELDS; 0 the symbol's row, then its legs' in LEGS' order) as its word. */
function viewWord(symbol: string, row: Row, k: number): ViewRowWord {
  const untrusted: UntrustedFigure[] = [];
  const [notional, sigmaRaw, qtyRaw, markRaw, updatedAt, volatility, side] = row;
  // The symbol's row is its newest snapshot: of the leg its side names, or (the seeds', no side) of the whole symbol.
  const slot: Leg | '*' = k === 0 ? (legOf(side, undefined) ?? '*') : LEGS[k - 1]!;
  const none = { slot, word: undefined, untrusted };
  // An index entry whose hash is being removed says nothing.
  if ((notional === null || notional === undefined) && (updatedAt === null || updatedAt === undefined)) return none;
  const key = k === 0 ? keys.position(symbol) : keys.positionLeg(symbol, LEGS[k - 1]!);
  const sigma = figure(untrusted, symbol, sigmaRaw !== null && sigmaRaw !== undefined ? 'sigma' : 'volatility', sigmaRaw ?? volatility);
  const notionalUsd = figure(untrusted, symbol, 'position_notional_usd', notional);
  if (notionalUsd === undefined && notional !== null && notional !== undefined)
    return { slot, word: { refused: { symbol, source: 'snapshot', reason: 'unparsable', key } }, untrusted };
  const [qty, mark] = [parseNumber(qtyRaw), parseNumber(markRaw)];
  // A row without a notional: a position the balance tracker could not price (position-snapshot
  // writes its quantity, signed by its side, and mark 0).
  if (notionalUsd === undefined && (qty === undefined || qty === 0 || (mark !== undefined && mark > 0))) return none;
  const signedQty = notionalUsd === undefined ? signedBySide(qty, side) : qty;
  const word: LaneWord = {
    key,
    figure: {
      symbol,
      leg: legOf(side, notionalUsd || signedQty),
      notionalUsd: notionalUsd ?? 0,
      sigma,
      qty: signedQty,
      markPrice: positiveOrNone(mark),
      asOfMs: parseNumber(updatedAt) ?? 0,
      origin: 'view',
    },
  };
  return { slot, word, untrusted };
}

/** Where an unapplied entry was read: the stream, by its id (a refusal names it). */
const streamKey = (id: string) => `${streams.positionSnapshot}@${id}`;

const positiveOrNone = (value: number | undefined) => (value !== undefined && value > 0 ? value : undefined);

/**
 * The larger of the market state publisher's sigma and the market state's: two producers of one
 * figure, merged by the rule of "Figures" (and with the figures' own sigma by the caller).
 */
function marketSigma(symbol: string, at: number | undefined, sigma: BookRead['sigma'], untrusted: UntrustedFigure[]): number | undefined {
  if (at === undefined) return undefined;
  const published = figure(untrusted, symbol, 'marketstate_sigma', sigma(at, 0));
  const market = figure(untrusted, symbol, 'market_sigma', sigma(at, 1));
  return largestOf(published, market);
}

/** A quantity signed by the side its producer wrote beside it (the balance tracker writes |qty| and LONG/SHORT). */
function signedBySide(qty: number | undefined, side: unknown): number | undefined {
  const sign = sideSign(side);
  return qty === undefined || sign === undefined ? qty : sign * Math.abs(qty);
}

/**
 * A P3.3 hash as P3.3's word on its symbol. P3.3 always writes ts_epoch: a hash without it is not
 * the Ledger's (a leftover of an earlier quantum-gates, which wrote its view under this name) and
 * says nothing. Notional is position_amt × mark_price, P3.3's own fields; position_notional_usd only
 * where those are missing (a leftover field of ours in a hash P3.3 has since rewritten must not
 * win). A flat hash (position_amt 0) is a figure of notional 0; a quantity with a mark of 0 or below,
 * or none, is a position without a price (notional 0, no mark: the Ledger writes mark_price "0"
 * before the exchange reports one), never a short of a long. A sizing figure or stamp present but no
 * number is a refusal.
 */
function p33Word(symbol: string, prefix: string, row: Row, untrusted: UntrustedFigure[]): LaneWord | undefined {
  const [amtRaw, markRaw, tsRaw, notionalRaw, sigmaRaw, side] = row;
  if (tsRaw === null || tsRaw === undefined) return undefined;
  const key = prefix + symbol;
  const before = untrusted.length;
  const ts = figure(untrusted, symbol, 'ts_epoch', tsRaw);
  const amt = figure(untrusted, symbol, 'position_amt', amtRaw);
  const mark = figure(untrusted, symbol, 'mark_price', markRaw);
  const notional =
    amt === 0 || (mark !== undefined && mark <= 0)
      ? 0
      : amt !== undefined && mark !== undefined
        ? amt * mark
        : figure(untrusted, symbol, 'position_notional_usd', notionalRaw);
  const sigma = figure(untrusted, symbol, 'sigma', sigmaRaw);
  if (ts === undefined || untrusted.length > before + (sigma === undefined && sigmaRaw !== null && sigmaRaw !== undefined ? 1 : 0))
    return { refused: { symbol, source: 'p33', reason: 'unparsable', key } };
  if (notional === undefined && (amt === undefined || amt === 0)) return undefined;
  // Flat "by mistake": P3.3 writes side FLAT (NONE before de25f13cb) with a zero amount, LONG/SHORT
  // only with a signed one (position_state_brain/main.py:513). A zero beside LONG/SHORT is no
  // writer's report of a close (a field rewritten by hand, a partial write): the symbol is unknown.
  if (amt === 0 && legOf(side, undefined) !== undefined) {
    untrusted.push({ symbol, field: 'side', value: String(side).slice(0, 40) });
    return { refused: { symbol, source: 'p33', reason: 'unparsable', key } };
  }
  // A ts_epoch in no known unit still names a real position: it counts, as a figure of no time.
  return {
    key,
    figure: {
      symbol,
      leg: legOf(undefined, amt !== undefined && amt !== 0 ? amt : notional),
      notionalUsd: notional ?? 0,
      sigma,
      qty: amt,
      markPrice: positiveOrNone(mark),
      asOfMs: epochMs(ts) ?? 0,
      origin: 'p33',
    },
  };
}

/** p33Word, decoded once for a row the key watch keeps (decodedOnce), its untrusted figures added to `untrusted` at every call. */
function p33WordOnce(symbol: string, prefix: string, row: Row, untrusted: UntrustedFigure[]): LaneWord | undefined {
  // The row of an absent hash, one constant for every symbol: no word, nothing to keep.
  if (row === NO_P33_ROW) return undefined;
  const decoded = decodedOnce(row, symbol, prefix, prefix, p33Decoded);
  for (const u of decoded.untrusted) untrusted.push(u);
  return decoded.word;
}

/** p33Word with the untrusted figures it found, to keep with its row. */
function p33Decoded(symbol: string, row: Row, prefix: string): { word: LaneWord | undefined; untrusted: readonly UntrustedFigure[] } {
  const untrusted: UntrustedFigure[] = [];
  return { word: p33Word(symbol, prefix, row, untrusted), untrusted };
}

/** How one P3.3 hash is read directly: under which prefixes, judged at what clock. */
export interface P33ReadOptions {
  readonly config?: Pick<PositionBookConfig, 'POSITION_P33_PREFIXES' | 'POSITION_MAX_AGE_SEC' | 'PRICE_MAX_SKEW_SEC'>;
  readonly now: number;
}

/**
 * The Position Ledger's figure of one symbol, read directly under every prefix (the symbol a
 * message is about is never left to the index's refresh bound): the largest of its hashes'.
 * Undefined when absent or flat. Figures that are present but no number, or stamped ahead, are
 * added to `untrusted` when it is given.
 */
export async function readP33Position(
  redis: RedisReader,
  symbol: string,
  untrusted: UntrustedFigure[] | undefined,
  options: P33ReadOptions,
): Promise<BookPosition | undefined> {
  const replies = await sendReads(redis, p33PositionReads(symbol, options.config));
  const { fresh } = p33FiguresFrom(symbol, replies, options, untrusted);
  const top = largestExposure(fresh);
  if (top === undefined) return top;
  const sigmaAt = replies.length - 2;
  const market = marketSigma(symbol, sigmaAt, (at, k) => replies[at + k] as string | null, untrusted ?? []);
  const sigma = largestOf(top.sigma, market);
  return sigma === top.sigma ? top : { ...top, sigma };
}

/**
 * readP33Position's reads, for a reader that sends several as one (the governor's): P3.3's hash
 * under each prefix, then the two sigma fields. p33FiguresFrom reads their replies.
 */
export function p33PositionReads(symbol: string, config?: Pick<PositionBookConfig, 'POSITION_P33_PREFIXES'>): ReadCommand[] {
  return [
    ...p33HashReads(symbol, config),
    ['HGET', keys.marketStatePublished(symbol), 'sigma'],
    ['HGET', keys.marketState(symbol), 'sigma'],
  ];
}

/** P3.3's hash of `symbol` under each prefix, as the book reads it: what p33FiguresFrom and p33SaysFlat read. */
export function p33HashReads(symbol: string, config?: Pick<PositionBookConfig, 'POSITION_P33_PREFIXES'>): ReadCommand[] {
  return p33Prefixes(config).map((prefix): ReadCommand => ['HMGET', prefix + symbol, ...P33_FIELDS]);
}

/**
 * Whether P3.3's hashes of `symbol` (the replies of p33HashReads, a refused one an Error in its
 * place) say nothing the book would count or distrust at `options`' clock: every figure flat (no
 * notional, no quantity, no sigma: P3.3 writes none, and another producer's position of the symbol
 * would take it), none refused (stamped ahead, no number, unreadable), no field untrusted.
 * The position index job leaves such a symbol out of the held index, so no read of the book pays
 * for P3.3's flat universe; anything else (held, unpriced, doubtful) stays listed.
 */
export function p33SaysFlat(symbol: string, replies: readonly unknown[], options: P33ReadOptions): boolean {
  const untrusted: UntrustedFigure[] = [];
  const { fresh, refused } = p33FiguresFrom(symbol, replies, options, untrusted);
  // A flat figure's sigma still counts (largestExposure: the largest sigma of a symbol's figures, when another producer holds it).
  return (
    refused.length === 0 &&
    untrusted.length === 0 &&
    fresh.every((f) => f.notionalUsd === 0 && (f.qty === undefined || f.qty === 0) && f.sigma === undefined)
  );
}

/**
 * P3.3's words on `symbol` from the replies of p33PositionReads (in order; a hash Redis refused to
 * read is an Error in its place, an unreadable refusal), sorted by the book's rule at the clock of
 * `options`: its fresh figures (flat and unpriced ones included) and its refusals.
 */
export function p33FiguresFrom(
  symbol: string,
  replies: readonly unknown[],
  options: P33ReadOptions,
  untrusted: UntrustedFigure[] = [],
): { readonly fresh: readonly BookPosition[]; readonly refused: readonly RefusedFigure[] } {
  const prefixes = p33Prefixes(options.config);
  const words: LaneWord[] = [];
  for (let k = 0; k < prefixes.length; k++) {
    const reply = replies[k];
    if (reply instanceof Error) {
      const key = prefixes[k]! + symbol;
      untrusted.push({ symbol, field: 'unreadable_position', value: key });
      words.push({ refused: { symbol, source: 'p33', reason: 'unreadable', key } });
      continue;
    }
    const word = p33WordOnce(symbol, prefixes[k]!, (reply as Row | null) ?? NO_P33_ROW, untrusted);
    if (word !== undefined) words.push(word);
  }
  return sortWords(words, figureBounds(options.config, options.now), untrusted);
}

/** The bounds a book's settings give a figure at `now`. */
function figureBounds(
  config: Pick<PositionBookConfig, 'POSITION_MAX_AGE_SEC' | 'PRICE_MAX_SKEW_SEC'> | undefined,
  now: number,
): FigureBounds {
  return {
    maxAgeMs: config?.POSITION_MAX_AGE_SEC === undefined ? undefined : config.POSITION_MAX_AGE_SEC * 1000,
    maxSkewMs: (config?.PRICE_MAX_SKEW_SEC ?? DEFAULT_PRICE_MAX_SKEW_SEC) * 1000,
    now,
  };
}
