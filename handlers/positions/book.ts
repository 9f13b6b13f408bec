import { epochMs } from '../../domain/epoch.js';
import { sideSign } from '../../domain/side.js';
import * as z from 'zod';
import { isRedisStateRefusal, type RedisReader } from '../../runtime/contract/index.js';
import { envInt } from '../../schemas/env.js';
import { compareStreamIds, fieldsToRecord, parseNumber } from '../../schemas/fields.js';
import { keys, streams } from '../../schemas/keys.js';
import { positionSnapshotSchema, snapshotAges, snapshotNotional } from '../../schemas/position-snapshot.js';
import { gateLua } from '../lua.js';
import { replyOf, sendRead, sendReads, settledReplies, type ReadCommand } from './read-commands.js';

/** P3.3's hash prefixes: the seed era's, and upstream's newest (de25f13cb). */
export const DEFAULT_P33_PREFIXES: readonly string[] = [prefixOf(keys.p33PositionSnapshot), prefixOf(keys.p33StatePositions)];

/**
 * The one position book every gate reads (heat gate, governor, budget engine). It merges, per
 * symbol, the most recent of:
 * - our materialised view of quantum:stream:position.snapshot (position-snapshot handler);
 * - the snapshot stream's entries that view has not applied yet, so no decision lags the stream;
 * - the Position Ledger's (P3.3) hashes under every prefix of POSITION_P33_PREFIXES (seed era
 *   quantum:position:snapshot:{symbol}, upstream newest quantum:state:positions:{symbol}), found
 *   through the index the position-index job keeps (see handlers/positions/index-job.ts). A flat
 *   hash (position_amt 0, side NONE/FLAT) is the newest figure "no position" for its symbol.
 * A balance-tracker figure older than POSITION_MAX_AGE_SEC is no position: the balance tracker
 * never sends a zero snapshot when a position closes (our view's rows of its format carry that
 * TTL). The seeds' snapshots close with a 0 and stand until then. P3.3's hashes are not aged: P3.3
 * reports a close itself (a flat hash), and a hash left by a stopped P3.3 expires with its own TTL
 * (1 h). Until then it counts: for the caps, exposure that may be gone is the safe side.
 * Sigma: the figure's own, else another source's for the symbol, else quantum:marketstate:{symbol}
 * (market state publisher), else quantum:state:market:{symbol}.
 * For the governor (loadPositionBook's `withUnpriced`), also every symbol's mark quotes (the
 * governor counts each position at the freshest mark of all producers) and the positions with a
 * quantity but no price (PositionBook.unpriced); the other gates read neither.
 * What is read is said once (bookReads: the listing, then per symbol the keys, commands and fields)
 * and decoded once (bookReadOf). Two paths run it: one read-only script (read-book.lua: one round
 * trip, one consistent moment), or plain commands where scripts cannot run (Redis Cluster, Redis
 * before 7); the property test in test/integration/position-book-script.test.ts holds them equal.
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

export type PositionOrigin = 'view' | 'stream' | 'p33';

export interface BookPosition {
  readonly symbol: string;
  /** Signed as its source gave it (P3.3: position_amt × mark_price). */
  readonly notionalUsd: number;
  readonly sigma: number | undefined;
  readonly qty: number | undefined;
  readonly markPrice: number | undefined;
  /** Milliseconds since the epoch the figure is from; ranks the sources per symbol. */
  readonly asOfMs: number;
  readonly origin: PositionOrigin;
  /**
   * True for a stream figure in a repeating producer's format (the balance tracker's): it stops
   * counting POSITION_MAX_AGE_SEC after asOfMs. Our view's rows of that format carry a TTL instead.
   */
  readonly ages?: boolean;
}

export interface PositionBook {
  /** Open positions (notional ≠ 0), one per symbol, sorted by symbol. */
  readonly positions: readonly BookPosition[];
  /**
   * How unapplied snapshots were found: through the position-snapshot group (pending entries and
   * those after its last-delivered id), or, without that group, the stream's newest entries.
   */
  readonly streamRead: 'group' | 'tail' | 'none';
  /** True when more unapplied entries existed than POSITION_BOOK_MAX_PENDING. */
  readonly truncated: boolean;
  /**
   * Figures present but not plain finite numbers (a position dropped or left without sigma for
   * them), so a gate that must not decide on untrusted data can say so instead of skipping them.
   */
  readonly untrusted: readonly UntrustedFigure[];
  /**
   * Positions whose newest figure has a quantity but no price (a P3.3 hash's mark_price "0" or
   * none, a balance-tracker snapshot's mark_price 0): not in `positions` (no notional to count),
   * listed here with every quote Redis holds for the symbol, for a gate that must count them (the
   * governor prices them at the freshest mark, or blocks opens). Empty unless loadPositionBook was
   * asked for them.
   */
  readonly unpriced: readonly UnpricedPosition[];
  /**
   * Per symbol of the book, the replies of priceQuoteReads' reads (prices.ts priceQuotesOf reads
   * them), read in the same moment as the positions: the governor prices every position at the
   * freshest of them and its own mark. Empty unless loadPositionBook was asked for unpriced positions.
   */
  readonly quotes: ReadonlyMap<string, readonly (readonly (string | null)[])[]>;
}

/** A position the book cannot price, with the replies of priceQuoteReads' reads (prices.ts priceQuotesOf reads them). */
export interface UnpricedPosition {
  readonly position: BookPosition;
  readonly quoteReplies: readonly (readonly (string | null)[])[];
}

/** A position figure that is present but not a plain finite number. */
export interface UntrustedFigure {
  readonly symbol: string;
  readonly field: string;
  readonly value: string;
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
  /** equity_usd of quantum:state:portfolio (read in the same script), when asked for. */
  readonly equityRaw: string | undefined;
}

/** Runs the listing and bookReads in one moment; see read-book.lua. */
const READ_BOOK = gateLua('positions', 'read-book');

type Row = (string | null)[];
type Entry = [id: string, fields: string[]];
/** A per-symbol read Redis refused (a key of another type): its symbol, what it was for, its key. */
type Unreadable = [symbol: string, kind: 'position' | 'sigma' | 'quote', key: string];
/** What one read of the book found, by name (bookReadOf's decoding of either path's replies). */
interface BookRead {
  /** equity_usd of the portfolio state, when asked for. */
  readonly equity: string | null;
  /** Our view's symbols and their rows (VIEW_FIELDS). */
  readonly symbols: readonly string[];
  readonly rows: readonly Row[];
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
   * [publisher's, market state's] sigma, each taken (a refusal noted in `unreadable`) when called:
   * mergeBook calls them where it needs them; the script may have left the others unread (SymbolRead.needless).
   */
  readonly sigmaRows: readonly (readonly (() => string | null)[])[];
  /** In priceQuoteReads' order ([price, time] each), or none without unpriced positions. */
  readonly quoteRows: readonly (readonly Row[])[];
  readonly unreadable: readonly Unreadable[];
}

/** The fields of a view row, in this order. */
const VIEW_FIELDS = ['position_notional_usd', 'sigma', 'qty', 'mark_price', 'updated_at', 'volatility', 'side'] as const;

/** Fields read from each P3.3 hash, in this order (the book and readP33Position alike). */
const P33_FIELDS = ['position_amt', 'mark_price', 'ts_epoch', 'position_notional_usd', 'sigma'] as const;
const NO_P33_ROW: Row = P33_FIELDS.map(() => null);
const NO_PAIR: Row = [null, null];

/** The prefix a key function puts before the symbol. */
function prefixOf(keyOf: (symbol: string) => string): string {
  return keyOf('');
}

/**
 * Whose symbols a read is made for: our view index's, P3.3's index's, the unapplied entries', or
 * the book's (all three, each once, in that order).
 */
type SymbolList = 'view' | 'p33' | 'entries' | 'book';
/** A read made for each symbol of a list, of the key prefix + symbol. */
interface SymbolRead {
  readonly over: SymbolList;
  readonly read: readonly [command: 'GET' | 'HGET' | 'HMGET', prefix: string, ...args: string[]];
  /**
   * Where the script may leave it unread (the plain path reads everything): for a symbol one of
   * whose keys prefix + symbol it has read already, and whose reply holds figures that surely read
   * as numbers at every place named. bookReadOf never looks at a reply this leaves unread.
   */
  readonly needless?: readonly (readonly [prefix: string, ...places: number[]])[];
}

/**
 * What the book reads per symbol after its listing (equity, the two indexes, the stream's
 * unapplied entries), grouped as bookReadOf decodes them; both paths run these reads, in this order.
 * Sigma and quotes are read for every symbol of the book (but what the script finds needless);
 * bookReadOf uses those of the symbols it holds (a P3.3 index entry whose hash has expired holds
 * nothing) and, with allP33Quotes, P3.3's marks only of symbols outside P3.3's index (the index's
 * own rows carry them).
 */
function bookReads(prefixes: readonly string[], withUnpriced: boolean, allP33Quotes: boolean): Record<BookReadGroup, SymbolRead[]> {
  const [view, published, marketState] = [prefixOf(keys.position), prefixOf(keys.marketStatePublished), prefixOf(keys.marketState)];
  // Sigma is needless where the view row brings one (with its notional), the market state's after the publisher's.
  const ownSigma = [view, VIEW_FIELDS.indexOf('position_notional_usd'), VIEW_FIELDS.indexOf('sigma')] as const;
  return {
    view: [{ over: 'view', read: ['HMGET', view, ...VIEW_FIELDS] }],
    applied: [{ over: 'entries', read: ['GET', prefixOf(keys.positionAppliedId)] }],
    p33: prefixes.map((p) => ({ over: 'p33', read: ['HMGET', p, ...P33_FIELDS] })),
    sigma: [
      { over: 'book', read: ['HGET', published, 'sigma'], needless: [ownSigma] },
      { over: 'book', read: ['HGET', marketState, 'sigma'], needless: [ownSigma, [published, 0]] },
    ],
    // In priceQuoteReads' order: market state, ticker, then P3.3's under each prefix (but from the
    // P3.3 row of a symbol P3.3's index lists).
    quotes: !withUnpriced
      ? []
      : [
          { over: 'book', read: ['HMGET', marketState, 'mark_price', 'timestamp'] },
          { over: 'book', read: ['HMGET', prefixOf(keys.ticker), 'markPrice', 'timestamp'] },
          ...(allP33Quotes
            ? prefixes.map((p): SymbolRead => ({ over: 'book', read: ['HMGET', p, 'mark_price', 'ts_epoch'], needless: [[p]] }))
            : []),
        ],
  };
}
/** The groups of bookReads in the order both paths send them and bookReadOf takes their replies. */
const BOOK_READ_GROUPS = ['view', 'applied', 'p33', 'sigma', 'quotes'] as const;
type BookReadGroup = (typeof BOOK_READ_GROUPS)[number];

/** What either path answers: the listing, the symbol lists, and per read of bookReads per symbol of its list, its reply or Redis's refusal. */
interface ListedReplies {
  readonly equity: string | null;
  readonly mode: BookRead['mode'];
  readonly entries: readonly Entry[];
  readonly lists: Readonly<Record<SymbolList, readonly string[]>>;
  readonly replies: readonly (readonly unknown[])[];
}

/** read-book.lua's reply: the listing, the lists (view, p33, entries, book), the replies, the refusals {read, symbol's place, error} from 1. */
type ScriptReply = [string | null, ListedReplies['mode'], Entry[], string[][], unknown[][], [number, number, string][]];

/** What a read of the book brings besides the positions. */
export interface BookReadOptions {
  /** Also equity_usd of quantum:state:portfolio, in the same read. */
  readonly withEquity?: boolean;
  /** The clock figures are aged against (POSITION_MAX_AGE_SEC): the caller's, as every decision's. */
  readonly now: number;
  /** Also the P3.3 positions it cannot price, with every symbol's quotes (PositionBook.unpriced, quotes). */
  readonly withUnpriced?: boolean;
  /** With `withUnpriced`: a symbol's P3.3 marks even where the P3.3 index does not list it, as readPriceQuotes reads them. */
  readonly allP33Quotes?: boolean;
}

/**
 * Reads the book (and what `options` ask for): in one read-only script on one node (one round trip,
 * one consistent moment), else (Redis Cluster, Redis before 7) the same reads as plain commands.
 */
export async function loadPositionBook(redis: RedisReader, config: PositionBookConfig, options: BookReadOptions): Promise<BookAndEquity> {
  const { withEquity = false, now, withUnpriced = false, allP33Quotes = false } = options;
  const prefixes = p33Prefixes(config);
  const reads = bookReads(prefixes, withUnpriced, allP33Quotes);
  const sent = BOOK_READ_GROUPS.flatMap((group) => reads[group]);
  const equityKey = withEquity ? keys.portfolioState : '';
  const listing = [keys.activePositions, config.POSITION_SNAPSHOT_STREAM, keys.p33PositionIndex, equityKey] as const;
  let listed: ListedReplies;
  try {
    const reply = await redis.eval_ro(
      READ_BOOK,
      4,
      ...listing,
      config.POSITION_SNAPSHOT_GROUP,
      config.POSITION_BOOK_MAX_PENDING,
      JSON.stringify(sent),
    );
    const [equity, mode, entries, [view = [], p33 = [], entrySymbols = [], book = []], replies, refused] = reply as ScriptReply;
    for (const [read, at, error] of refused) replies[read - 1]![at - 1] = new Error(error);
    // A read refused for Redis's state (an ACL) is no key's problem: the plain reads meet it again and fail, held.
    settledReplies(refused.map(([, , error]) => new Error(error)));
    listed = { equity, mode, entries, lists: { view, p33, entries: entrySymbols, book }, replies };
  } catch {
    // Scripts refused (Redis Cluster, Redis before 7, an ACL without EVAL_RO): the same reads as plain commands.
    listed = await readPlain(redis, config, equityKey, sent);
  }
  const maxAgeMs = config.POSITION_MAX_AGE_SEC === undefined ? undefined : config.POSITION_MAX_AGE_SEC * 1000;
  return {
    book: mergeBook(bookReadOf(listed, reads), config.POSITION_BOOK_MAX_PENDING, prefixes.length, maxAgeMs, now, withUnpriced),
    equityRaw: listed.equity ?? undefined,
  };
}

/**
 * What read-book.lua does, as plain commands: not one atomic moment, so a snapshot applied between
 * the reads may be counted from both the view and the stream (the newer wins per symbol).
 */
async function readPlain(
  redis: RedisReader,
  config: PositionBookConfig,
  equityKey: string,
  reads: readonly SymbolRead[],
): Promise<ListedReplies> {
  const stream = config.POSITION_SNAPSHOT_STREAM;
  const [equity, view, p33] = await Promise.all([
    equityKey === '' ? null : redis.hget(equityKey, 'equity_usd'),
    redis.smembers(keys.activePositions),
    redis.smembers(keys.p33PositionIndex),
  ]);
  let mode: ListedReplies['mode'] = 'none';
  let start = '-';
  try {
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    mode = 'tail';
    for (const g of groups) {
      const info = fieldsToRecord(g.map(String));
      if (info.name !== config.POSITION_SNAPSHOT_GROUP) continue;
      mode = 'group';
      start = `(${info['last-delivered-id']}`;
      if (Number(info.pending) > 0) start = ((await redis.xpending(stream, config.POSITION_SNAPSHOT_GROUP)) as [number, string])[1];
    }
  } catch (error) {
    // No stream: nothing to fold in; a refusal that is Redis's state is no answer about it.
    if (isRedisStateRefusal(error)) throw error;
  }
  const entries = mode === 'none' ? [] : await redis.xrevrange(stream, '+', start, 'COUNT', config.POSITION_BOOK_MAX_PENDING + 1);
  const entrySymbols = [...new Set(entries.map(([, f]) => fieldsToRecord(f).symbol ?? ''))].filter((s) => s !== '');
  const lists = { view, p33, entries: entrySymbols, book: [...new Set([...view, ...entrySymbols, ...p33])] };
  // A key of another type is its read's reply (as the script's refusals), any other failure the read's.
  const settled = (error: unknown) => {
    if (error instanceof Error && /\bWRONGTYPE\b/.test(error.message)) return error;
    throw error;
  };
  const replies = await Promise.all(
    reads.map(({ over, read: [command, prefix, ...args] }) =>
      Promise.all(lists[over].map((s) => sendRead(redis, [command, prefix + s, ...args]).catch(settled))),
    ),
  );
  return { equity, mode, entries, lists, replies };
}

/**
 * Either path's replies by name: the one place they are decoded. A refused key is `unreadable`
 * (its symbol's problem only) where its reply is taken (sigma's: where mergeBook needs it), or, for
 * an applied id, the whole read's error.
 */
function bookReadOf({ equity, mode, entries, lists, replies }: ListedReplies, reads: Record<BookReadGroup, SymbolRead[]>): BookRead {
  const unreadable: Unreadable[] = [];
  let next = 0;
  /** Each read of a group as: the reply for the symbol at `at` of its list, or `none` (absent or refused). */
  const take = (group: readonly SymbolRead[], kind?: Unreadable[1]) =>
    group.map(({ over, read: [, prefix] }) => {
      const got = replies[next++] ?? [];
      return <T>(at: number, none: T): T => {
        const reply = got[at];
        if (!(reply instanceof Error)) return (reply ?? none) as T;
        if (kind === undefined) throw reply;
        unreadable.push([lists[over][at]!, kind, prefix + lists[over][at]]);
        return none;
      };
    });
  // In BOOK_READ_GROUPS' order.
  const [viewRow, appliedId, p33Reads, sigmaReads, quoteReads] = [
    take(reads.view, 'position')[0]!,
    take(reads.applied)[0]!,
    take(reads.p33, 'position'),
    take(reads.sigma, 'sigma'),
    take(reads.quotes, 'quote'),
  ];
  const rows = lists.view.map((_, at) => viewRow<Row>(at, []));
  const appliedOf = new Map(lists.entries.map((s, at) => [s, appliedId<string>(at, '')]));
  const applied = entries.map(([, f]) => appliedOf.get(fieldsToRecord(f).symbol ?? '') ?? '');
  const p33rows = lists.p33.map((_, at) => p33Reads.map((read) => read<Row>(at, NO_P33_ROW)));
  // The book's symbols that hold something: P3.3's index may list a symbol whose hash has expired.
  const held = lists.p33.filter((_, at) => p33rows[at]!.flat().some((v) => v !== null));
  const holding = new Set([...lists.view, ...lists.entries, ...held]);
  const sigmaAt = [...lists.book.entries()].filter(([, s]) => holding.has(s));
  const p33At = new Map(lists.p33.map((s, at) => [s, at]));
  return {
    equity,
    symbols: lists.view,
    rows,
    mode,
    entries,
    applied,
    p33: lists.p33,
    p33rows,
    sigmaSymbols: sigmaAt.map(([, s]) => s),
    sigmaRows: sigmaAt.map(([at]) => sigmaReads.map((read) => () => read<string | null>(at, null))),
    // P3.3's mark and time of a symbol P3.3's index lists from its P3.3 rows, else (allP33Quotes) its own reads.
    quoteRows: sigmaAt.map(([at, s]) => {
      const rows = p33rows[p33At.get(s) ?? -1];
      const p33Pair = (k: number): Row =>
        rows ? [rows[k]?.[1] ?? null, rows[k]?.[2] ?? null] : (quoteReads[2 + k]?.<Row>(at, NO_PAIR) ?? NO_PAIR);
      return quoteReads.length === 0
        ? []
        : [quoteReads[0]!<Row>(at, NO_PAIR), quoteReads[1]!<Row>(at, NO_PAIR), ...p33Reads.map((_, k) => p33Pair(k))];
    }),
    unreadable,
  };
}

/**
 * Per symbol the most recent figure, dropped when older than `maxAgeMs`; sigma from that figure,
 * else from another source, else the market state publisher's, else the market state's.
 */
function mergeBook(
  read: BookRead,
  bound: number,
  prefixCount: number,
  maxAgeMs: number | undefined,
  now: number,
  withUnpriced: boolean,
): PositionBook {
  const { symbols, rows, mode, entries: rawEntries, applied, p33, p33rows, sigmaSymbols, sigmaRows, quoteRows, unreadable } = read;
  const best = new Map<string, BookPosition>();
  const sigmaOf = new Map<string, number>();
  const untrusted: UntrustedFigure[] = [];
  // The newest figure of each symbol with a quantity but no price.
  const unpricedFigures = new Map<string, BookPosition>();
  const noteUnpriced = (p: BookPosition | undefined) => {
    const known = p === undefined ? undefined : unpricedFigures.get(p.symbol);
    if (p !== undefined && (known === undefined || p.asOfMs > known.asOfMs)) unpricedFigures.set(p.symbol, p);
  };
  const offer = (p: BookPosition) => {
    if (p.sigma !== undefined && !sigmaOf.has(p.symbol)) sigmaOf.set(p.symbol, p.sigma);
    const current = best.get(p.symbol);
    if (current === undefined || p.asOfMs > current.asOfMs) best.set(p.symbol, p);
  };

  symbols.forEach((symbol, i) => {
    const [notional, sigmaRaw, qty, mark, updatedAt, volatility, side] = rows[i] ?? [];
    const sigma = figure(untrusted, symbol, sigmaRaw !== null && sigmaRaw !== undefined ? 'sigma' : 'volatility', sigmaRaw ?? volatility);
    const asOfMs = parseNumber(updatedAt) ?? 0;
    // A row without a notional: a position the balance tracker could not price (position-snapshot
    // writes its quantity and mark 0), or an index entry whose hash is being removed.
    if (withUnpriced && (notional === null || notional === undefined) && updatedAt !== null && updatedAt !== undefined)
      noteUnpriced(unpricedOf(symbol, signedBySide(parseNumber(qty), side), parseNumber(mark), asOfMs, 'view'));
    const notionalUsd = figure(untrusted, symbol, 'position_notional_usd', notional);
    if (notionalUsd === undefined) return;
    offer({
      symbol,
      notionalUsd,
      sigma,
      qty: parseNumber(qty),
      markPrice: parseNumber(mark),
      asOfMs,
      origin: 'view',
    });
  });

  // Newest first, bounded; an entry at or before the symbol's applied id is already in the view.
  const entries = rawEntries.slice(0, bound);
  const foldedSymbols = new Set<string>();
  entries.forEach(([id, flat], i) => {
    const appliedId = applied[i] ?? '';
    if (appliedId !== '' && compareStreamIds(id, appliedId) <= 0) return;
    const fields = fieldsToRecord(flat);
    const parsed = positionSnapshotSchema.safeParse(fields);
    if (!parsed.success) {
      // The newest snapshot of a symbol has a figure that is no number (position-snapshot
      // dead-letters it): until then the symbol's figure is in doubt.
      const symbol = fields.symbol;
      if (symbol !== undefined && !foldedSymbols.has(symbol)) {
        for (const issue of parsed.error.issues) {
          const field = String(issue.path[0] ?? '');
          if (field !== 'symbol') untrusted.push({ symbol, field, value: (fields[field] ?? '').slice(0, 40) });
        }
      }
      return;
    }
    const snapshot = parsed.data;
    const notionalUsd = snapshotNotional(snapshot);
    // An entry position-snapshot acknowledges without applying (no usable figure) changes nothing.
    if (notionalUsd === undefined) return;
    if (foldedSymbols.has(snapshot.symbol)) return;
    foldedSymbols.add(snapshot.symbol);
    // Replaces the view's figure for the symbol outright: it is newer than what the view applied.
    best.delete(snapshot.symbol);
    unpricedFigures.delete(snapshot.symbol);
    const qty = snapshot.qty ?? snapshot.position_qty;
    if (withUnpriced && notionalUsd === 0)
      noteUnpriced(
        unpricedOf(
          snapshot.symbol,
          signedBySide(qty, snapshot.side),
          snapshot.mark_price,
          Number.parseInt(id, 10),
          'stream',
          snapshotAges(snapshot),
        ),
      );
    offer({
      symbol: snapshot.symbol,
      notionalUsd,
      sigma: snapshot.sigma ?? snapshot.volatility,
      qty,
      markPrice: snapshot.mark_price,
      asOfMs: Number.parseInt(id, 10),
      origin: 'stream',
      ages: snapshotAges(snapshot),
    });
  });

  p33.forEach((symbol, i) => {
    for (const [amtRaw, markRaw, tsRaw, notionalRaw, sigmaRaw] of p33rows[i] ?? []) {
      const position = p33Figure(symbol, amtRaw, markRaw, tsRaw, notionalRaw, sigmaRaw, untrusted);
      if (position !== undefined) offer(position); // else expired since the index was refreshed, or not P3.3's
      if (withUnpriced) noteUnpriced(p33Unpriced(symbol, amtRaw, markRaw, tsRaw, notionalRaw));
    }
  });

  sigmaSymbols.forEach((symbol, i) => {
    if (sigmaOf.has(symbol) || !best.has(symbol)) return;
    const [published, market] = sigmaRows[i] ?? [];
    const sigma = figure(untrusted, symbol, 'marketstate_sigma', published?.()) ?? figure(untrusted, symbol, 'market_sigma', market?.());
    if (sigma !== undefined) sigmaOf.set(symbol, sigma);
  });

  // A symbol whose position key Redis refuses to read has no figure anyone can trust: none of its
  // figures count, it is untrusted, and for the governor a position of unknown size.
  const unreadableSymbols = new Set<string>();
  for (const [symbol, kind, key] of unreadable) {
    untrusted.push({ symbol, field: `unreadable_${kind}`, value: key });
    if (kind === 'position') unreadableSymbols.add(symbol);
  }
  for (const symbol of unreadableSymbols) {
    best.delete(symbol);
    unpricedFigures.set(symbol, {
      symbol,
      notionalUsd: 0,
      sigma: undefined,
      qty: undefined,
      markPrice: undefined,
      asOfMs: now,
      origin: 'p33',
    });
  }
  const positions = [...best.values()]
    .filter((p) => p.notionalUsd !== 0 && !agedOut(p, maxAgeMs, now))
    .map((p) => (p.sigma === undefined && sigmaOf.has(p.symbol) ? { ...p, sigma: sigmaOf.get(p.symbol) } : p))
    .sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  const quotes = new Map<string, readonly Row[]>();
  if (withUnpriced) sigmaSymbols.forEach((symbol, i) => quotes.set(symbol, quoteRows[i]!));
  const unpriced: UnpricedPosition[] = [];
  for (const [symbol, position] of unpricedFigures) {
    if (!unpricedStands(position, best.get(symbol)) || agedOut(position, maxAgeMs, now)) continue;
    unpriced.push({ position, quoteReplies: quotes.get(symbol) ?? Array.from({ length: 2 + prefixCount }, () => NO_PAIR) });
  }
  return { positions, streamRead: mode, truncated: rawEntries.length > bound, untrusted, unpriced, quotes };
}

/**
 * A view row or snapshot that names a position (a quantity not 0) with no price (mark 0 or none):
 * the balance tracker writes mark_price "0.0" when the exchange reports no entry price.
 */
function unpricedOf(
  symbol: string,
  qty: number | undefined,
  mark: number | undefined,
  asOfMs: number,
  origin: PositionOrigin,
  ages?: boolean,
): BookPosition | undefined {
  if (qty === undefined || qty === 0 || (mark !== undefined && mark > 0)) return undefined;
  return { symbol, notionalUsd: 0, sigma: undefined, qty, markPrice: undefined, asOfMs, origin, ...(ages === true ? { ages } : {}) };
}

/** A quantity signed by the side its producer wrote beside it (the balance tracker writes |qty| and LONG/SHORT). */
function signedBySide(qty: number | undefined, side: unknown): number | undefined {
  const sign = sideSign(side);
  return qty === undefined || sign === undefined ? qty : sign * Math.abs(qty);
}

/**
 * Whether an unpriced figure is the symbol's newest word: no priced figure is as new, and no flat
 * one newer (a flat hash's 0 of the same moment is that very hash read as a notional).
 */
function unpricedStands(unpriced: BookPosition, current: BookPosition | undefined): boolean {
  if (current === undefined) return true;
  return current.notionalUsd === 0 ? current.asOfMs <= unpriced.asOfMs : current.asOfMs < unpriced.asOfMs;
}

/**
 * A P3.3 hash that names a position (a quantity not 0) the book cannot price: its mark is "0", not
 * positive or absent, with no notional of ours beside an absent mark. Such a position is still
 * exposure (the Ledger writes mark_price "0" before the exchange reports a mark).
 */
function p33Unpriced(
  symbol: string,
  amtRaw: string | null | undefined,
  markRaw: string | null | undefined,
  tsRaw: string | null | undefined,
  notionalRaw: string | null | undefined,
): BookPosition | undefined {
  const ts = parseNumber(tsRaw);
  const amt = parseNumber(amtRaw);
  if (ts === undefined || amt === undefined || amt === 0) return undefined;
  const mark = parseNumber(markRaw);
  if (mark !== undefined ? mark > 0 : parseNumber(notionalRaw) !== undefined) return undefined;
  return { symbol, notionalUsd: 0, sigma: undefined, qty: amt, markPrice: undefined, asOfMs: epochMs(ts) ?? 0, origin: 'p33' };
}

/**
 * Older than the bound: its producer stopped repeating it. Only a repeating producer's figures
 * age (the balance tracker's; in our view its rows carry the same bound as a TTL). The seeds'
 * snapshots close with a 0, P3.3 reports its closes and its hashes carry their own TTL.
 */
function agedOut(p: BookPosition, maxAgeMs: number | undefined, now: number): boolean {
  return p.ages === true && maxAgeMs !== undefined && p.asOfMs > 0 && now - p.asOfMs > maxAgeMs;
}

/**
 * A P3.3 hash as a position. P3.3 always writes ts_epoch: a hash without it is not the Ledger's
 * (a leftover of an earlier quantum-gates, which wrote its view under this name) and is ignored.
 * Notional is position_amt × mark_price, P3.3's own fields; position_notional_usd only where those
 * are missing (a leftover field of ours in a hash P3.3 has since rewritten must not win). A flat
 * hash (position_amt 0) is a figure of notional 0: the symbol's newest word may be "closed".
 */
function p33Figure(
  symbol: string,
  amtRaw: string | null | undefined,
  markRaw: string | null | undefined,
  tsRaw: string | null | undefined,
  notionalRaw: string | null | undefined,
  sigmaRaw: string | null | undefined,
  untrusted?: UntrustedFigure[],
): BookPosition | undefined {
  const ts = parseNumber(tsRaw);
  if (ts === undefined) return undefined;
  const amt = figure(untrusted, symbol, 'position_amt', amtRaw);
  const mark = figure(untrusted, symbol, 'mark_price', markRaw);
  // A notional only from a positive mark: a mark of 0 or below prices nothing (an unpriced
  // position, p33Unpriced), and a negative one must not turn a long into a short.
  const notionalUsd =
    amt === 0 || (mark !== undefined && mark <= 0)
      ? 0
      : amt !== undefined && mark !== undefined
        ? amt * mark
        : figure(untrusted, symbol, 'position_notional_usd', notionalRaw);
  if (notionalUsd === undefined) return undefined;
  // A ts_epoch in no known unit still names a real position: it counts, as the oldest figure for
  // its symbol (any snapshot with a time beats it), rather than hiding exposure.
  return {
    symbol,
    notionalUsd,
    sigma: figure(untrusted, symbol, 'sigma', sigmaRaw),
    qty: amt,
    markPrice: mark,
    asOfMs: epochMs(ts) ?? 0,
    origin: 'p33',
  };
}

/** How one P3.3 hash is read directly: under which prefixes, aged against what. */
export interface P33ReadOptions {
  readonly config?: Pick<PositionBookConfig, 'POSITION_P33_PREFIXES' | 'POSITION_MAX_AGE_SEC'>;
  readonly now?: number;
}

/**
 * The Position Ledger's figure of one symbol, read directly under every prefix (the symbol a
 * message is about is never left to the index's refresh bound): the newest of its hashes. Undefined
 * when absent, flat or older than POSITION_MAX_AGE_SEC. Figures that are present but no number
 * are added to `untrusted` when it is given.
 */
export async function readP33Position(
  redis: RedisReader,
  symbol: string,
  untrusted?: UntrustedFigure[],
  options: P33ReadOptions = {},
): Promise<BookPosition | undefined> {
  return p33PositionFrom(symbol, await sendReads(redis, p33PositionReads(symbol, options.config)), untrusted);
}

/**
 * readP33Position's reads, for a reader that sends several as one (the governor's): P3.3's hash
 * under each prefix, then the two sigma fields. p33PositionFrom reads their replies.
 */
export function p33PositionReads(symbol: string, config?: Pick<PositionBookConfig, 'POSITION_P33_PREFIXES'>): ReadCommand[] {
  const reads: ReadCommand[] = [];
  for (const prefix of p33Prefixes(config)) reads.push(['HMGET', prefix + symbol, ...P33_FIELDS]);
  reads.push(['HGET', keys.marketStatePublished(symbol), 'sigma'], ['HGET', keys.marketState(symbol), 'sigma']);
  return reads;
}

/**
 * What readP33Position answers, from the replies of p33PositionReads (all of them, in order): the
 * newest of the P3.3 rows, with sigma from the market when it has none. A read's error is thrown,
 * as readP33Position rejects with it. It ages nothing (P3.3's hashes are not aged, see the book
 * above), so the same replies say the same at any clock.
 */
export function p33PositionFrom(symbol: string, replies: readonly unknown[], untrusted?: UntrustedFigure[]): BookPosition | undefined {
  for (const reply of replies) replyOf(reply);
  const sigmaAt = replies.length - 2;
  let position: BookPosition | undefined;
  for (let i = 0; i < sigmaAt; i++) {
    const [amtRaw, markRaw, tsRaw, notionalRaw, sigmaRaw] = replies[i] as Row;
    const candidate = p33Figure(symbol, amtRaw, markRaw, tsRaw, notionalRaw, sigmaRaw, untrusted);
    if (candidate !== undefined && (position === undefined || candidate.asOfMs > position.asOfMs)) position = candidate;
  }
  if (position === undefined || position.notionalUsd === 0) return undefined;
  if (position.sigma !== undefined) return position;
  const sigma =
    figure(untrusted, symbol, 'marketstate_sigma', replies[sigmaAt] as string | null) ??
    figure(untrusted, symbol, 'market_sigma', replies[sigmaAt + 1] as string | null);
  return { ...position, sigma };
}

/**
 * From the replies of p33PositionReads: the symbol's P3.3 position when its newest hash names a
 * quantity with no price (PositionBook.unpriced's rule), which p33PositionFrom answers as none.
 */
export function p33UnpricedFrom(symbol: string, replies: readonly unknown[]): BookPosition | undefined {
  let newest: BookPosition | undefined;
  let unpriced: BookPosition | undefined;
  for (let i = 0; i < replies.length - 2; i++) {
    const [amtRaw, markRaw, tsRaw, notionalRaw, sigmaRaw] = replyOf<Row>(replies[i]);
    const figure = p33Figure(symbol, amtRaw, markRaw, tsRaw, notionalRaw, sigmaRaw);
    if (figure !== undefined && (newest === undefined || figure.asOfMs > newest.asOfMs)) newest = figure;
    const candidate = p33Unpriced(symbol, amtRaw, markRaw, tsRaw, notionalRaw);
    if (candidate !== undefined && (unpriced === undefined || candidate.asOfMs > unpriced.asOfMs)) unpriced = candidate;
  }
  return unpriced !== undefined && unpricedStands(unpriced, newest) ? unpriced : undefined;
}
