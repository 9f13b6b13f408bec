import type { ExecHistory } from './history.js';
import type { Reservation, ReservationRead } from './reservations.js';

/** What the permits decided earlier in a batch changed for one symbol. */
export interface SymbolChanges {
  /** The symbol's version key as the last permit of the batch leaves it. */
  readonly version: string;
  /** testnet: last_exec as that permit sets it (epoch seconds). */
  readonly lastExecSec: number | undefined;
  /** Execution times the batch's permits appended (epoch seconds, newest first). */
  readonly execTimes: readonly number[];
  /** production: what the batch's permits added to the day's total. */
  readonly dailyAdded: number;
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
 * A batch decides in order: the runtime handles its messages one after another, and each sees
 * what the decisions before it in the batch wrote (cooldown, execution history, daily totals,
 * reservations, the cap version, a disarm).
 * Their writes are not committed yet, so the permits that build on them guard on the values
 * those earlier permits set: the commit checks such chained guards at each message's turn, and a
 * message whose predecessor did not commit is decided again on fresh data.
 *
 * One ledger per batch (and per re-run), kept in the batch state.
 */
export class BatchLedger {
  private readonly symbols = new Map<string, SymbolChanges>();
  private capsVersion: string | null;
  private readonly reservationList: Reservation[];
  private disarmTripped = false;
  private exitLocks = new Map<string, string>();

  constructor(caps: ReservationRead) {
    this.capsVersion = caps.version;
    this.reservationList = [...caps.reservations];
  }

  get caps(): ReservationRead {
    return { version: this.capsVersion, reservations: this.reservationList };
  }

  symbol(symbol: string): SymbolChanges | undefined {
    return this.symbols.get(symbol);
  }

  get disarmed(): boolean {
    return this.disarmTripped;
  }

  /** The exit lock's holder as the batch left it: a plan_id, or undefined when untouched here. */
  exitLock(symbol: string): string | undefined {
    return this.exitLocks.get(symbol);
  }

  notePermit(symbol: string, changes: Omit<SymbolChanges, 'execTimes'> & { readonly execTime: number }): void {
    const before = this.symbols.get(symbol);
    this.symbols.set(symbol, {
      version: changes.version,
      lastExecSec: changes.lastExecSec ?? before?.lastExecSec,
      execTimes: [changes.execTime, ...(before?.execTimes ?? [])],
      dailyAdded: (before?.dailyAdded ?? 0) + changes.dailyAdded,
    });
  }

  noteReservation(reservation: Reservation, version: string): void {
    this.reservationList.push(reservation);
    this.capsVersion = version;
  }

  noteDisarm(): void {
    this.disarmTripped = true;
  }

  noteExitLock(symbol: string, planId: string): void {
    this.exitLocks.set(symbol, planId);
  }
}
