/**
 * Which portfolio state the budgets are computed from: fresh state, else the last-known-good
 * copy kept in Redis, else none (fail-open: no budgets). The original service checked staleness
 * after taking the cached copy, so the cache could never be used; here the choice is made once.
 */
import { parseNumber } from '../../schemas/fields.js';

export interface PortfolioSnapshot {
  readonly equityUsd: number;
  readonly drawdown: number;
  /** Epoch seconds the producer stamped; undefined when it did not. */
  readonly timestampSec: number | undefined;
}

export type PortfolioProblem = 'missing' | 'invalid_equity' | 'no_timestamp' | 'stale';

export type PortfolioChoice =
  | { readonly kind: 'fresh'; readonly state: PortfolioSnapshot; readonly ageSec: number }
  | { readonly kind: 'lkg'; readonly state: PortfolioSnapshot; readonly ageSec: number; readonly problem: PortfolioProblem }
  | { readonly kind: 'too_old'; readonly problem: PortfolioProblem; readonly lkgAgeSec: number | undefined };

export interface FreshnessLimits {
  readonly staleSec: number;
  readonly maxLkgAgeSec: number;
}

/** Producers write epoch seconds; a value in milliseconds is recognised by its size. */
export function toEpochSeconds(value: number): number {
  return value > 1e11 ? value / 1000 : value;
}

/** A quantum:state:portfolio hash (or its saved copy) as numbers, or why it cannot be used. */
export function parsePortfolioState(hash: Readonly<Record<string, string>>): PortfolioSnapshot | 'missing' | 'invalid_equity' {
  if (Object.keys(hash).length === 0 || hash.equity_usd === undefined) return 'missing';
  const equityUsd = parseNumber(hash.equity_usd);
  if (equityUsd === undefined || equityUsd <= 0) return 'invalid_equity';
  const timestamp = parseNumber(hash.timestamp);
  return { equityUsd, drawdown: parseNumber(hash.drawdown) ?? 0, timestampSec: timestamp === undefined ? undefined : toEpochSeconds(timestamp) };
}

/**
 * Age of a snapshot's data, by the producer's own timestamp. A timestamp further in the future
 * than the window is a broken clock, not fresh data, so it never counts as young.
 */
function ageWithin(state: PortfolioSnapshot, nowSec: number, windowSec: number): number | undefined {
  if (state.timestampSec === undefined) return undefined;
  const age = nowSec - state.timestampSec;
  return Math.abs(age) < windowSec ? age : undefined;
}

/**
 * fresh (younger than STALE_SEC) → use it (and the caller saves it as last-known-good);
 * otherwise the last-known-good copy if its data is younger than MAX_LKG_AGE_SEC; otherwise none.
 * The copy's age is its data's age (the producer's timestamp), not when we saved it.
 */
export function choosePortfolioState(
  current: Readonly<Record<string, string>>,
  lastKnownGood: Readonly<Record<string, string>>,
  nowMs: number,
  limits: FreshnessLimits,
): PortfolioChoice {
  const nowSec = nowMs / 1000;
  const parsed = parsePortfolioState(current);
  let problem: PortfolioProblem;
  if (typeof parsed === 'string') {
    problem = parsed;
  } else if (parsed.timestampSec === undefined) {
    problem = 'no_timestamp';
  } else {
    const age = ageWithin(parsed, nowSec, limits.staleSec);
    if (age !== undefined) return { kind: 'fresh', state: parsed, ageSec: age };
    problem = 'stale';
  }

  const lkg = parsePortfolioState(lastKnownGood);
  if (typeof lkg === 'string') return { kind: 'too_old', problem, lkgAgeSec: undefined };
  const lkgAge = ageWithin(lkg, nowSec, limits.maxLkgAgeSec);
  if (lkgAge !== undefined) return { kind: 'lkg', state: lkg, ageSec: lkgAge, problem };
  return { kind: 'too_old', problem, lkgAgeSec: lkg.timestampSec === undefined ? undefined : nowSec - lkg.timestampSec };
}

/** The hash saved as last-known-good: the state's own fields, so its age stays the data's age. */
export function lastKnownGoodFields(state: PortfolioSnapshot, savedAtMs: number): Record<string, string> {
  return {
    equity_usd: String(state.equityUsd),
    drawdown: String(state.drawdown),
    timestamp: String(state.timestampSec ?? ''),
    saved_at: String(Math.floor(savedAtMs / 1000)),
  };
}
