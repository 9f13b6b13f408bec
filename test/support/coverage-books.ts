import { seeded } from '../../domain/seeded-random.js';
import type { TimedPnl } from '../../domain/time-blocks.js';

/**
 * Synthetic books of decisions with a known effect, for measuring how often a 90 % interval
 * covers the truth (test/unit/interval-coverage.test.ts, bench/interval-coverage.ts). Each
 * symbol's price is a random walk on a grid of `stepMs`, made of a market factor shared by every
 * symbol (weight √ρ) and its own noise (√(1−ρ)); a decision's PnL is its true effect plus its
 * exposure times the return over its horizon, so decisions whose horizons overlap share the
 * market's moves. The truth is the sum of the true effects.
 */

export interface Book {
  readonly name: string;
  readonly symbols: number;
  /** Correlation of the symbols' returns (the market factor's share of the variance). */
  readonly rho: number;
  readonly horizonMs: number;
  /** How long the traffic runs. */
  readonly spanMs: number;
  /** Each symbol decides every `everyMs` on average (exponential gaps). */
  readonly everyMs: number;
  /** Decisions per burst on one symbol, a second apart (1: no bursts). */
  readonly burst: number;
  readonly stepMs: number;
  /** The share of symbols held long (the rest short); 0.75 unless said. */
  readonly longShare?: number;
}

export interface Drawn {
  readonly samples: TimedPnl[];
  readonly truth: number;
}

/** A standard normal draw (Box–Muller) from a uniform generator. */
function normal(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Per-step volatility of a symbol's return: 1 % over an hour, as a random walk. */
const VOL_PER_HOUR = 0.01;
/** The true effect of a decision, per dollar of exposure (1 bp: small against the noise). */
const EFFECT = 0.0001;

export function drawBook(book: Book, seed: number): Drawn {
  const random = seeded(seed);
  const steps = Math.ceil((book.spanMs + book.horizonMs) / book.stepMs) + 1;
  const sd = VOL_PER_HOUR * Math.sqrt(book.stepMs / 3_600_000);
  const market = new Float64Array(steps);
  for (let i = 1; i < steps; i++) market[i] = market[i - 1]! + normal(random) * sd;
  const samples: TimedPnl[] = [];
  let truth = 0;
  const horizonSteps = Math.round(book.horizonMs / book.stepMs);
  for (let s = 0; s < book.symbols; s++) {
    const symbol = `S${s}USDT`;
    const path = new Float64Array(steps);
    for (let i = 1; i < steps; i++)
      path[i] = path[i - 1]! + Math.sqrt(1 - book.rho) * normal(random) * sd + Math.sqrt(book.rho) * (market[i]! - market[i - 1]!);
    // Mostly longs, as a book of kept exposure is: the market's moves do not cancel out.
    const side = random() < (book.longShare ?? 0.75) ? 1 : -1;
    let at = random() * book.everyMs;
    while (at < book.spanMs) {
      for (let k = 0; k < book.burst && at + k * 1000 < book.spanMs; k++) {
        const step = Math.floor((at + k * 1000) / book.stepMs);
        const exposure = side * (500 + random() * 4500);
        const effect = EFFECT * Math.abs(exposure);
        truth += effect;
        samples.push({
          at: step * book.stepMs,
          horizonMs: book.horizonMs,
          symbol,
          pnlUsd: effect + exposure * (path[step + horizonSteps]! - path[step]!),
        });
      }
      at += -Math.log(1 - random()) * book.everyMs;
    }
  }
  return { samples, truth };
}

const MIN = 60_000;
const HOUR = 3_600_000;

/** The scenarios of the coverage table (docs/outcomes.md), sized for the suite: about 40–80 blocks each. */
export const SUITE_BOOKS: readonly Book[] = [
  { name: '8 independent symbols, 1 m', symbols: 8, rho: 0, horizonMs: MIN, spanMs: 2 * HOUR, everyMs: 20_000, burst: 1, stepMs: 10_000 },
  {
    name: '8 symbols, market factor ρ 0.6, 1 m',
    symbols: 8,
    rho: 0.6,
    horizonMs: MIN,
    spanMs: 2 * HOUR,
    everyMs: 20_000,
    burst: 1,
    stepMs: 10_000,
  },
  {
    name: '30 symbols, market factor ρ 0.6, 5 m',
    symbols: 30,
    rho: 0.6,
    horizonMs: 5 * MIN,
    spanMs: 8 * HOUR,
    everyMs: 3 * MIN,
    burst: 1,
    stepMs: 30_000,
  },
  {
    name: 'bursts of 6 on one symbol, 40 symbols, 5 m',
    symbols: 40,
    rho: 0.3,
    horizonMs: 5 * MIN,
    spanMs: 8 * HOUR,
    everyMs: 40 * MIN,
    burst: 6,
    stepMs: 30_000,
  },
  { name: 'one symbol, 1 m', symbols: 1, rho: 0, horizonMs: MIN, spanMs: 2 * HOUR, everyMs: 10_000, burst: 1, stepMs: 10_000 },
];

/** Half an hour of correlated traffic at 5 m: too little for any interval. */
export const SHORT_BOOK: Book = {
  name: '30 minutes, 8 symbols, ρ 0.6, 5 m',
  symbols: 8,
  rho: 0.6,
  horizonMs: 5 * MIN,
  spanMs: 30 * MIN,
  everyMs: 10_000,
  burst: 1,
  stepMs: 5000,
};
