import { BatchTurns } from '../../runtime/contract/index.js';
import type { ExecHistory } from './history.js';
import type { Reservation, ReservationRead } from './reservations.js';

/** What the permits decided earlier in a batch changed for one symbol. */
export interface SymbolChanges {
  /** The symbol's version key as the batch's first permit of it found it (null: absent). */
  readonly from: string | null;
  /** The symbol's version key as the last permit of the batch leaves it. */
  readonly version: string;
  /** testnet: last_exec as that permit sets it (epoch seconds). */
  readonly lastExecSec: number | undefined;
  /** Execution times the batch's permits appended (epoch seconds, newest first). */
  readonly execTimes: readonly number[];
  /** production: what the batch's permits added to the day's total, and that day's key. */
  readonly dailyAdded: number;
  readonly dailyKey: string;
}

/** What a symbol's permits change of what a plan reads about it (the day's total apart: see the callers). */
export interface SymbolState {
  readonly version: string | null;
  readonly lastExecSec: number | undefined;
  readonly execHistory: ExecHistory;
}

/** `state` as the permits behind `changes` leave it: their version, last_exec and execution times on top. */
export function afterPermits(state: SymbolState, changes: SymbolChanges): SymbolState {
  return {
    version: changes.version,
    lastExecSec: changes.lastExecSec ?? state.lastExecSec,
    execHistory: { type: 'list', times: [...changes.execTimes, ...state.execHistory.times] },
  };
}

/**
 * A batch decides in order (issue #23): the governor's messages run concurrently, but each takes
 * a turn, in batch order, for its decision, and sees what the decisions before it in the batch
 * wrote (cooldown, execution history, daily totals, reservations, the cap version, a disarm).
 * Their writes are not committed yet, so the permits that build on them guard on the values
 * those earlier permits set: the commit checks such chained guards at each message's turn, and a
 * message whose predecessor did not commit is decided again on fresh data.
 *
 * One ledger per batch (and per re-run), kept in the batch state.
 *
 * Decided ahead (batch.decidesAhead): a batch may be decided while the batch before it is still
 * committing, its reads made before or after that commit applied. Where a read shows the state
 * the batch ahead started from (the cap version, a symbol's version), that batch's decisions are
 * laid over it as if they had applied, and the decisions built on them guard on the values they
 * were to write: a commit that did not land as decided fails those guards, and the plans are
 * decided again on what did. Where a read shows what the batch ahead left, or anything else,
 * it is taken as read.
 */
export class BatchLedger extends BatchTurns {
  private readonly symbols = new Map<string, SymbolChanges>();
  /** The cap version this batch's decisions started from (as read, or as the batch ahead leaves it). */
  private readonly startCapsVersion: string | null;
  private capsVersion: string | null;
  private readonly reservationList: Reservation[];
  /** This batch's own reservations, in decision order. */
  private readonly added: Reservation[] = [];
  /** A disarm this batch tripped, and one the batch ahead tripped (that holds, landed or not). */
  private disarmTripped = false;
  private readonly aheadDisarmed: boolean;
  private exitLocks = new Map<string, string>();
  /** Whether the caps (reservations, cap version) include the batch ahead's uncommitted permits. */
  readonly capsPredicted: boolean;
  /** The batch ahead's changes per symbol and its exit locks, laid over a symbol's reads that predate them. */
  private readonly aheadSymbols: ReadonlyMap<string, SymbolChanges>;
  private readonly aheadExitLocks: ReadonlyMap<string, string>;

  /** `ahead`: the ledger of the batch still committing, when this one is decided ahead of it. */
  constructor(caps: ReservationRead, ahead?: BatchLedger) {
    super();
    // Only the batch ahead's own changes are kept, never its ledger: no chain of batches stays alive.
    this.aheadSymbols = ahead?.symbols ?? new Map();
    this.aheadExitLocks = ahead?.exitLocks ?? new Map();
    this.aheadDisarmed = ahead?.disarmTripped ?? false;
    this.capsPredicted = ahead !== undefined && ahead.added.length > 0 && caps.version === ahead.startCapsVersion;
    if (ahead !== undefined && this.capsPredicted) {
      // Read before its permits applied. The set may be newer than the version read before it
      // (reservations.ts): a reservation already in it is not counted twice.
      const read = new Set(caps.reservations.map((r) => r.planId));
      this.capsVersion = ahead.capsVersion;
      this.reservationList = [...caps.reservations, ...ahead.added.filter((r) => !read.has(r.planId))];
    } else {
      this.capsVersion = caps.version;
      this.reservationList = [...caps.reservations];
    }
    this.startCapsVersion = this.capsVersion;
  }

  /**
   * The batch ahead's changes to a symbol whose reads show the version that batch started from
   * (they predate its commit), with its exit lock; undefined where there is nothing to lay over.
   */
  aheadOf(
    symbol: string,
    readVersion: string | null,
  ): { readonly changes: SymbolChanges; readonly exitLock: string | undefined } | undefined {
    const changes = this.aheadSymbols.get(symbol);
    if (changes === undefined || changes.from !== readVersion) return undefined;
    return { changes, exitLock: this.aheadExitLocks.get(symbol) };
  }

  get caps(): ReservationRead {
    return { version: this.capsVersion, reservations: this.reservationList };
  }

  symbol(symbol: string): SymbolChanges | undefined {
    return this.symbols.get(symbol);
  }

  get disarmed(): boolean {
    return this.disarmTripped || this.aheadDisarmed;
  }

  /** The exit lock's holder as the batch left it: a plan_id, or undefined when untouched here. */
  exitLock(symbol: string): string | undefined {
    return this.exitLocks.get(symbol);
  }

  notePermit(
    symbol: string,
    changes: Omit<SymbolChanges, 'execTimes' | 'from'> & { readonly previous: string | null; readonly execTime: number },
  ): void {
    const before = this.symbols.get(symbol);
    this.symbols.set(symbol, {
      from: before === undefined ? changes.previous : before.from,
      version: changes.version,
      dailyKey: changes.dailyKey,
      lastExecSec: changes.lastExecSec ?? before?.lastExecSec,
      execTimes: [changes.execTime, ...(before?.execTimes ?? [])],
      dailyAdded: (before?.dailyAdded ?? 0) + changes.dailyAdded,
    });
  }

  noteReservation(reservation: Reservation, version: string): void {
    this.reservationList.push(reservation);
    this.added.push(reservation);
    this.capsVersion = version;
  }

  noteDisarm(): void {
    this.disarmTripped = true;
  }

  noteExitLock(symbol: string, planId: string): void {
    this.exitLocks.set(symbol, planId);
  }
}
