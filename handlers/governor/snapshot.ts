import type { BudgetHashField } from '../../schemas/budget.js';
import type { RedisReader } from '../../runtime/contract/index.js';
import { killSwitchBlocks } from '../../domain/kill-switch.js';
import { keys, streams } from '../../schemas/keys.js';
import { freshBudget, hasRecentViolation, parseBudget, readViolations, type Budget, type Violation } from './budget.js';
import type { GovernorConfig } from './config.js';
import { countSince, execHistoryFrom, execHistoryRead, numberKeyFrom, utcDate, type ExecHistory } from './history.js';
import type { Position, PositionSource } from './positions.js';
import { readWatched, type RefusedFigure, type UnreadableListing } from '../positions/book.js';
import type { MemoryWrites } from '../positions/memory.js';
import { DEFAULT_PRICE_MAX_SKEW_SEC } from '../positions/bounds.js';
import {
  futureQuotes,
  highestOf,
  priceQuoteReads,
  priceQuotesOf,
  quoteBounds,
  quoteRefusalsOf,
  refusalName,
  type PriceQuote,
  type RefusedQuote,
} from '../positions/prices.js';
import { refusedAs, replyOf, sendReadsSettled, type ReadCommand } from '../positions/read-commands.js';
import { bookView, withOwnPriced, type BookView } from './book-view.js';
import type { LastFigures } from './last-figures.js';
import { readReservations, reservedExposure, type ReservationRead } from './reservations.js';
import { readEviction, type EvictionState } from './eviction.js';

/** The original's dust rule for the position cap: `abs(positionAmt) > 0.0001` counts as open. */
export const DUST_QTY = 0.0001;

/** Everything the gates compare a plan against, read at one moment. */
export interface GovernorSnapshot {
  readonly now: number;
  readonly killSwitch: boolean;
  /** Ours: quantum:governor:disarm exists (opens are blocked). */
  readonly disarmed: boolean;
  /**
   * Ours: Redis's maxmemory-policy when it is not noeviction (or why it could not be read): opens
   * are blocked (eviction.ts). Absent: noeviction, or a snapshot rebuilt from a record made before
   * the field existed.
   */
  readonly redisMayEvict?: string;
  /** The original's record of today's auto-disarm exists (quantum:governor:disarm:{date}). */
  readonly disarmedToday: boolean;
  /** quantum:governor:last_exec:{symbol} in epoch seconds; undefined when absent or unreadable. */
  readonly lastExecSec: number | undefined;
  readonly execHistory: ExecHistory;
  /** Permits on this symbol in the last hour / 5 minutes, from the history list. */
  readonly execLastHour: number;
  readonly execLast5Min: number;
  /** Open positions, dust (|qty| ≤ 0.0001) not counted. */
  readonly openPositions: number;
  /** Σ|notional| over the book's priced positions, before this plan. */
  readonly totalNotional: number;
  /**
   * Symbols of open positions no producer prices (no mark anywhere): the total is unknown while
   * any is open, so the total cap blocks opens (position_price_unknown). Absent: none (an event
   * recorded before the field existed).
   */
  readonly unpricedPositions?: readonly string[];
  /**
   * The keys of the book's listing reads Redis refused (an index or the snapshot stream of another
   * type, or one the gates' user may not read): positions may be missing from the book, so the caps
   * cannot be judged and opens are blocked (positions_unreadable); closes are never priced for them.
   * Absent or empty: every listing was read.
   */
  readonly unreadableListings?: readonly string[];
  /**
   * Outstanding reservations (permitted opens whose position has not shown in this book yet, not
   * expired): the caps count the book plus these.
   */
  readonly reservations: number;
  /** Position slots they hold (distinct symbols with no open position in the book). */
  readonly reservedPositions: number;
  readonly reservedNotional: number;
  /** When the oldest of them was reserved (ms). */
  readonly oldestReservationAt: number | undefined;
  /** production: quantum:exit:lock:{symbol}'s holder (a plan_id) when a close of the symbol is in flight. */
  readonly exitLockHolder: string | null;
  /** |notional| of this symbol's own position. */
  readonly symbolNotional: number;
  /** This symbol's position, as the production path sizes a close from it. */
  readonly ownPosition: Position | undefined;
  readonly markPrice: number | undefined;
  /**
   * The quote markPrice is (its source and time), for the decision's event; absent where no
   * quote was fresh, or where the snapshot was rebuilt from a record (report calibrate).
   */
  readonly markQuote?: PriceQuote | undefined;
  /**
   * The symbol's quotes stamped further ahead than PRICE_MAX_SKEW_SEC, refused (no quote): the
   * decision counts and logs them by source. Absent where the snapshot was rebuilt from a record.
   */
  readonly futureQuotes?: readonly SymbolQuote[];
  /**
   * The position figures the book refused (stamped ahead, no number, unreadable): each makes its
   * symbol a position of unknown size. The decision counts and logs them. Absent where the
   * snapshot was rebuilt from a record.
   */
  readonly refusedFigures?: readonly RefusedFigure[];
  /**
   * Ours (issue #70): the plan's own symbol's quotes and position figures refused (`source:reason`:
   * stamped ahead, no number, a key Redis refused). What remains of its price is no longer
   * cross-checked, so an open of it is priced as unknown (gates.ts openPriceUntrusted). Absent or
   * empty: none (and in events recorded before it).
   */
  readonly refusedInputs?: readonly string[];
  /**
   * The quotes a decision meets that are no number or unreadable (its plan's symbol's, and each other
   * symbol's its book was priced at), for the decision to count by source and reason; those stamped
   * ahead are futureQuotes. Absent where the snapshot was rebuilt from a record.
   */
  readonly refusedQuoteCounts?: readonly RefusedQuote[];
  /** The P2.8 budget when present and fresh; undefined fails open. */
  readonly budget: Budget | undefined;
  readonly recentViolation: boolean;
  /** production: today's total of closed notional (or qty), quantum:governor:daily:{symbol}:{date}. */
  readonly dailyTotal: number;
  readonly dailyKey: string;
}

/**
 * What the handler needs besides the snapshot: the race guard, auto-disarm. (Whether the plan_id
 * was permitted before is the declaration's idempotency, checked before handle.)
 */
export interface Coordination {
  /** The symbol's permit sequence number (null when no permit was ever recorded). */
  readonly version: string | null;
  /** Governor errors counted for auto-disarm. */
  readonly recentErrors: number;
  /** quantum:governor:{caps}:version as the decision saw it. */
  readonly capsVersion: string | null;
  /** quantum:kill as the decision read it (null: absent): a permit's commit checks it still holds that. */
  readonly killSwitch: string | null;
}

/**
 * A plan's reads that are not of its symbol: its batch state, loaded for each plan after the one
 * before it committed (the governor is a commitEach gate), so they hold every earlier decision.
 */
export interface PlanState {
  readonly kill: string | null;
  readonly disarm: string | null;
  readonly disarmOfDay: boolean;
  readonly recentErrors: number;
  readonly positions: readonly Position[];
  /** The book's listing reads Redis refused (PositionBook.unreadableListings). */
  readonly unreadableListings: readonly UnreadableListing[];
  /** What the decision's commit writes to the book's memory (LoadedPositions.memoryWrites). */
  readonly memoryWrites?: MemoryWrites;
  /** budget.violation entries since the start of the window. */
  readonly violations: readonly Violation[];
  /** The outstanding reservations and the caps version. */
  readonly caps: ReservationRead;
  /** The last open quantity of each symbol this process's batches saw (last-figures.ts). */
  readonly lastFigures?: LastFigures;
  /** Whether Redis may evict keys, read with the rest of this state (eviction.ts). Absent: noeviction. */
  readonly eviction?: EvictionState;
}

/** What a plan reads about its symbol. */
interface SymbolReads {
  /**
   * The book with the symbol read directly by the source (PositionSource.directRead), so
   * its own position is never left to the book's index refresh bound.
   */
  readonly book: BookView;
  readonly version: string | null;
  readonly lastExecSec: number | undefined;
  readonly execHistory: ExecHistory;
  readonly dailyTotal: number | undefined;
  readonly quotes: readonly PriceQuote[];
  /** Its quotes no number or unreadable (prices.ts quoteRefusalsOf); those stamped ahead are judged at the plan's clock. */
  readonly quoteRefusals: readonly RefusedQuote[];
  /** The P2.8 budget hash as read (each plan judges its freshness by its own clock). */
  readonly budget: Budget | undefined;
  /** Redis refused to read it (another type). */
  readonly budgetRefused: boolean;
  readonly exitLock: string | null;
}

const BUDGET_FIELDS = ['budget_usd', 'timestamp', 'mode'] as const satisfies readonly BudgetHashField[];

/**
 * The symbol's keys read together, each reply read as its own read alone was: a version or budget that cannot be read
 * fails the plan, a last_exec or daily total of another type is absent, an execution history of
 * another type is read by its type, an unreadable exit lock is none; the source's direct read of
 * the position goes last. Errors are thrown in the order the reads are listed; the history's
 * further reads (a leftover's type) go last.
 */
async function readSymbol(
  redis: RedisReader,
  state: PlanState,
  symbol: string,
  dailyKey: string,
  config: GovernorConfig,
  source: PositionSource | undefined,
  now: number,
): Promise<SymbolReads> {
  const { list, withExitLock, quotesAt, directAt, direct } = symbolReadList(symbol, dailyKey, config, source, now);
  // The governor's own keys sent (ahead, with the state: symbolReadsAhead); the symbol's marks and
  // P3.3 hashes through the key watch's kept replies, after the book's barrier (readWatched).
  const [own, watched] = await Promise.all([sendReadsSettled(redis, list.slice(0, quotesAt)), readWatched(redis, list.slice(quotesAt))]);
  const replies = [...own, ...watched];
  const version = replyOf<string | null>(replies[0]);
  const lastExecSec = numberKeyFrom(replies[1]);
  const dailyTotal = numberKeyFrom(replies[3]);
  const quotes = priceQuotesOf(replies, quotesAt, directAt - quotesAt);
  const quoteRefusals = quoteRefusalsOf(replies, quotesAt, directAt - quotesAt);
  // A budget hash of another type is no budget (a missing one fails open), counted as refused.
  const budgetRefused = replies[4] instanceof Error;
  const budgetFields = budgetRefused ? [] : replyOf<(string | null)[]>(replies[4]);
  const exitLock = withExitLock && !(replies[5] instanceof Error) ? (replies[5] as string | null) : null;
  const position = direct?.position(replies.slice(directAt));
  const execHistory = await execHistoryFrom(redis, symbol, replies[2]);
  return {
    book: bookView(state.positions, position, symbol),
    version,
    lastExecSec,
    execHistory,
    dailyTotal,
    quotes,
    quoteRefusals,
    budget: parseBudget(budgetFields[0] ?? null, budgetFields[1] ?? null, budgetFields[2] ?? null),
    budgetRefused,
    exitLock,
  };
}

/** readSymbol's reads, in its order, and where each part of them starts. */
function symbolReadList(symbol: string, dailyKey: string, config: GovernorConfig, source: PositionSource | undefined, now: number) {
  const withExitLock = !(config.APPLY_MODE === 'testnet' || config.APPLY_MODE === 'dry_run');
  const list: ReadCommand[] = [
    ['GET', keys.governorSymbolVersion(symbol)],
    ['GET', keys.governorLastExec(symbol)],
    execHistoryRead(symbol),
    ['GET', dailyKey],
    ['HMGET', keys.budget(symbol), ...BUDGET_FIELDS],
  ];
  if (withExitLock) list.push(['GET', keys.governorExitLock(symbol)]);
  const quotesAt = list.length;
  for (const read of priceQuoteReads(symbol, config)) list.push(read);
  const directAt = list.length;
  const direct = source?.directRead?.(symbol, config, now);
  if (direct !== undefined) for (const read of direct.reads) list.push(read);
  return { list, withExitLock, quotesAt, directAt, direct };
}

/**
 * The reads a plan of `symbol` decided at `now` makes of its symbol (loadSnapshot's), named ahead
 * so the runtime sends them with the plan's state (OwnKeys.reads): the plan is read in one
 * round trip. Whatever is read, the decision reads it through its ctx, as before.
 */
export function symbolReadsAhead(symbol: string, config: GovernorConfig, now: number, source?: PositionSource): readonly ReadCommand[] {
  const { list, quotesAt } = symbolReadList(symbol, keys.governorDaily(symbol, utcDate(now)), config, source, now);
  // Not the marks and P3.3's hashes: the key watch keeps their replies (readSymbol).
  return list.slice(0, quotesAt);
}

/** The lower bound of the error count: the window's start, or every error since the last disarm. */
export function errorWindowStart(config: GovernorConfig, now: number): string {
  return config.GOV_DISARM_WINDOW_SEC > 0 ? `(${now - config.GOV_DISARM_WINDOW_SEC * 1000}` : '-inf';
}

export async function loadPlanState(
  redis: RedisReader,
  config: GovernorConfig,
  positionSource: PositionSource,
  now: number,
  lastFigures?: LastFigures,
): Promise<PlanState> {
  const [kill, disarm, disarmOfDay, recentErrors, positions, violations, caps, eviction] = await Promise.all([
    // A key of another type cannot be read as off: it blocks (the kill switch fails closed).
    redis.get(keys.killSwitch).catch(refusedAs('unreadable')),
    redis.get(keys.governorDisarm).catch(refusedAs('unreadable')),
    redis.exists(keys.governorDisarmOfDay(utcDate(now))),
    redis.zcount(keys.governorErrors, errorWindowStart(config, now), '+inf').catch(refusedAs(0)),
    positionSource.load(redis, now, config),
    redis.xrevrange(streams.budgetViolation, '+', `${Math.max(0, now - config.GOV_P28_VIOLATION_WINDOW_SEC * 1000)}-0`, 'COUNT', 1000),
    readReservations(redis, now, config.GOV_RESERVATION_TIMEOUT_SEC * 1000),
    // Sent with the reads above (one auto-pipelined round on one node): each plan's own reading.
    readEviction(redis),
  ]);
  lastFigures?.note(positions, now);
  return {
    lastFigures,
    kill,
    disarm,
    disarmOfDay: disarmOfDay > 0,
    recentErrors,
    positions,
    unreadableListings: [...(positions.unreadableListings ?? []), ...(caps.unreadable === undefined ? [] : [caps.unreadable])],
    ...(positions.memoryWrites === undefined ? {} : { memoryWrites: positions.memoryWrites }),
    violations: readViolations(violations),
    caps,
    eviction,
  };
}

/** The plan's snapshot at its clock: its state and its symbol's reads. */
export async function loadSnapshot(
  redis: RedisReader,
  state: PlanState,
  symbol: string,
  config: GovernorConfig,
  now: number,
  positionSource?: PositionSource,
): Promise<{ snapshot: GovernorSnapshot; coordination: Coordination }> {
  const dailyKey = keys.governorDaily(symbol, utcDate(now));
  const symbolRead = await readSymbol(redis, state, symbol, dailyKey, config, positionSource, now);
  const { version, lastExecSec, execHistory, dailyTotal, budget, exitLock } = symbolRead;
  const maxSkewMs = (config.PRICE_MAX_SKEW_SEC ?? DEFAULT_PRICE_MAX_SKEW_SEC) * 1000;
  const budgetAheadMs = budget?.updatedAtMs === undefined ? 0 : budget.updatedAtMs - now;
  const budgetKey = keys.budget(symbol);
  const refusedBudget: RefusedFigure[] = symbolRead.budgetRefused
    ? [{ symbol, source: 'budget', reason: 'unreadable', key: budgetKey }]
    : budgetAheadMs > maxSkewMs
      ? [{ symbol, source: 'budget', reason: 'future', key: budgetKey, aheadMs: budgetAheadMs }]
      : [];
  // The highest usable mark of the market state, P3.3 (flat symbols too), the ticker and the
  // position's own: no single producer can lower it (docs/governor.md, "Figures").
  const bounds = quoteBounds(config);
  const markQuote = highestOf(symbolRead.quotes, symbolRead.book.ownQuotes, now, bounds);
  const markPrice = markQuote?.price;
  const book = withOwnPriced(symbolRead.book, markPrice);
  const { kill, disarm, recentErrors, violations } = state;
  const own = book.own;
  const ownFuture = [...futureQuotes(symbolRead.quotes, now, bounds), ...futureQuotes(symbolRead.book.ownQuotes, now, bounds)];
  const refusedInputs = [
    ...new Set([
      ...symbolRead.quoteRefusals.map(refusalName),
      ...ownFuture.map((q) => refusalName({ source: q.source, reason: 'future' })),
      ...(own?.refusedQuotes ?? []).map(refusalName),
      ...(own?.refused ?? []).map(refusalName),
    ]),
  ];
  const reserved = reservedExposure(state.caps.reservations, book.positions, now);
  const snapshot: GovernorSnapshot = {
    now,
    killSwitch: killSwitchBlocks(kill),
    disarmed: disarm !== null,
    ...(state.eviction?.kind === 'may_evict' ? { redisMayEvict: state.eviction.policy } : {}),
    disarmedToday: state.disarmOfDay,
    lastExecSec,
    execHistory,
    execLastHour: countSince(execHistory, now, 3600),
    execLast5Min: countSince(execHistory, now, 300),
    openPositions: book.openPositions,
    totalNotional: book.totalNotional,
    unpricedPositions: book.unpriced,
    unreadableListings: state.unreadableListings.map((u) => u.key),
    symbolNotional: own?.notionalUsd ?? 0,
    ownPosition: own,
    markPrice,
    markQuote,
    futureQuotes: refusedAhead(symbol, ownFuture, book.positions),
    ...(refusedInputs.length === 0 ? {} : { refusedInputs }),
    refusedQuoteCounts: [
      ...symbolRead.quoteRefusals,
      ...book.positions.flatMap((p) => (p.symbol === symbol ? [] : (p.refusedQuotes ?? []).filter((r) => r.reason !== 'future'))),
    ],
    refusedFigures: [...book.positions.flatMap((p) => p.refused ?? []), ...refusedBudget],
    budget: freshBudget(budget, now, config.GOV_P28_BUDGET_MAX_AGE_SEC, maxSkewMs),
    recentViolation: hasRecentViolation(violations, symbol, now, config.GOV_P28_VIOLATION_WINDOW_SEC),
    dailyTotal: dailyTotal ?? 0,
    dailyKey,
    reservations: reserved.count,
    reservedPositions: reserved.positions,
    reservedNotional: reserved.notional,
    oldestReservationAt: reserved.oldestAt,
    exitLockHolder: exitLock,
  };
  return { snapshot, coordination: { version, recentErrors, capsVersion: state.caps.version, killSwitch: kill } };
}

/** A quote and the symbol it prices. */
export interface SymbolQuote {
  readonly symbol: string;
  readonly quote: PriceQuote;
}

/**
 * The quotes refused as stamped ahead that a decision meets: its own symbol's (read directly), then
 * those of the other symbols its book was priced at (the book's read of its own symbol reads the
 * same keys as the direct read: not counted twice).
 */
function refusedAhead(symbol: string, own: readonly PriceQuote[], positions: readonly Position[]): SymbolQuote[] {
  const out = own.map((quote) => ({ symbol, quote }));
  for (const p of positions) {
    if (p.symbol === symbol) continue;
    for (const quote of p.futureQuotes ?? []) out.push({ symbol: p.symbol, quote });
  }
  return out;
}
