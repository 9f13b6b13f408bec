/**
 * Which portfolio state the budgets are computed from, read as the original's fetch_portfolio_state
 * reads quantum:state:portfolio: equity_usd and drawdown by float() (missing = 0), timestamp by
 * int() (missing = 0); any of them unreadable is an error. Fresh (now − timestamp < STALE_SEC,
 * so a future timestamp is fresh) → used and saved as last-known-good; otherwise the last-known-good
 * copy if it was saved less than MAX_LKG_AGE_SEC ago; otherwise none (fail-open: no budgets).
 *
 * One deliberate difference: the original checked the copy's own timestamp against STALE_SEC after
 * taking it, so a copy could never produce a budget once 30 s old (seed 003 says it serves 15 min).
 * Here a copy that is chosen is used. It lives in Redis (handlers keep no memory), so it also
 * survives a restart, which the original's in-process copy did not.
 */
import { parsePyFloat, parsePyInt, pyFloatStr } from '../../schemas/python-number.js';

export interface PortfolioSnapshot {
  readonly equityUsd: number;
  readonly drawdown: number;
  /** The producer's `timestamp`, epoch seconds (0 when it wrote none). */
  readonly timestampSec: number;
}

export type PortfolioRead =
  | { readonly kind: 'state'; readonly state: PortfolioSnapshot }
  /** No hash, or an empty one. */
  | { readonly kind: 'missing' }
  /** A field float()/int() could not read: the original's exception branch. */
  | { readonly kind: 'unreadable'; readonly field: string };

/** Why the current state was not used. */
export type PortfolioProblem = 'missing' | 'stale' | 'unreadable';

export type PortfolioChoice =
  | { readonly kind: 'fresh'; readonly state: PortfolioSnapshot }
  | { readonly kind: 'lkg'; readonly state: PortfolioSnapshot; readonly problem: PortfolioProblem; readonly cacheAgeSec: number }
  | {
      readonly kind: 'none';
      readonly problem: PortfolioProblem;
      /**
       * True when a last-known-good copy exists but is too old: the only case the original counts
       * in p28_portfolio_too_old_total (not without a copy, nor on the exception branch).
       */
      readonly lkgTooOld: boolean;
      readonly cacheAgeSec: number | undefined;
    };

export interface FreshnessLimits {
  readonly staleSec: number;
  readonly maxLkgAgeSec: number;
}

function field(hash: Readonly<Record<string, string>>, name: string, parse: (s: string) => number | undefined): number | undefined {
  const raw = hash[name];
  return raw === undefined ? 0 : parse(raw);
}

/** The portfolio hash as the original reads it. */
export function readPortfolioState(hash: Readonly<Record<string, string>>): PortfolioRead {
  if (Object.keys(hash).length === 0) return { kind: 'missing' };
  const equityUsd = field(hash, 'equity_usd', parsePyFloat);
  if (equityUsd === undefined) return { kind: 'unreadable', field: 'equity_usd' };
  const drawdown = field(hash, 'drawdown', parsePyFloat);
  if (drawdown === undefined) return { kind: 'unreadable', field: 'drawdown' };
  const timestampSec = field(hash, 'timestamp', parsePyInt);
  if (timestampSec === undefined) return { kind: 'unreadable', field: 'timestamp' };
  return { kind: 'state', state: { equityUsd, drawdown, timestampSec } };
}

/** Our saved copy: the state's fields plus when it was saved (its age is the time since). */
export function readLastKnownGood(hash: Readonly<Record<string, string>>): { state: PortfolioSnapshot; savedAtSec: number } | undefined {
  const read = readPortfolioState(hash);
  const savedAtSec = parsePyInt(hash.saved_at);
  return read.kind === 'state' && savedAtSec !== undefined ? { state: read.state, savedAtSec } : undefined;
}

export function lastKnownGoodFields(state: PortfolioSnapshot, savedAtMs: number): Record<string, string> {
  return {
    equity_usd: pyFloatStr(state.equityUsd),
    drawdown: pyFloatStr(state.drawdown),
    timestamp: String(state.timestampSec),
    saved_at: String(Math.floor(savedAtMs / 1000)),
  };
}

export function choosePortfolioState(
  current: Readonly<Record<string, string>>,
  lastKnownGood: Readonly<Record<string, string>>,
  nowMs: number,
  limits: FreshnessLimits,
): PortfolioChoice {
  const nowSec = nowMs / 1000;
  const read = readPortfolioState(current);
  let problem: PortfolioProblem;
  if (read.kind === 'state') {
    if (nowSec - read.state.timestampSec < limits.staleSec) return { kind: 'fresh', state: read.state };
    problem = 'stale';
  } else {
    problem = read.kind;
  }
  const lkg = readLastKnownGood(lastKnownGood);
  if (lkg === undefined) return { kind: 'none', problem, lkgTooOld: false, cacheAgeSec: undefined };
  const cacheAgeSec = nowSec - lkg.savedAtSec;
  if (cacheAgeSec < limits.maxLkgAgeSec) return { kind: 'lkg', state: lkg.state, problem, cacheAgeSec };
  return { kind: 'none', problem, lkgTooOld: problem !== 'unreadable', cacheAgeSec };
}
