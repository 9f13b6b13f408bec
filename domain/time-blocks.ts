import { seeded } from './seeded-random.js';

/**
 * The 90 % interval of a total of decisions' PnL, and the warnings that go with it, for a market
 * that moves together: a moving-block bootstrap over contiguous stretches of time, all symbols
 * together (Künsch 1989, "The jackknife and the bootstrap for general stationary observations";
 * Lahiri 2003, "Resampling Methods for Dependent Data", ch. 2). Decisions whose horizons overlap
 * in time are marked against the same stretch of the market whatever their symbol, so the unit
 * that can be taken as independent is a stretch of time, never a decision or a symbol.
 *
 * - The time from the first decision on is cut into bins as long as the horizon plus the typical
 *   spacing between decisions: a decision's horizon reaches at most into the next bin.
 * - Blocks of `binsPerBlock` consecutive bins (about the cube root of the bins, at least 2, the
 *   usual rate for a block length; Hall, Horowitz & Jing 1995) are drawn with replacement until
 *   the resample is as long as the record; a block of several bins carries the dependence of
 *   neighbouring bins with it.
 * - Each resample gives a mean PnL per decision (its decisions' sum over their count), times the
 *   record's count: the interval is of the total for these decisions, not for how many there were.
 * - The 5th and 95th percentiles are widened for few blocks by Hesterberg's expanded percentile
 *   interval (Hesterberg 2015, "What teachers should know about the bootstrap", §4.4): the
 *   percentile taken at Φ(√(m/(m−1))·t₀.₀₅,ₘ₋₁) instead of 5 %, m the independent blocks.
 *
 * Below MIN_BLOCKS independent blocks no interval is given ("not enough independent data"), nor
 * when it would have no width. Pure and deterministic (a seeded generator).
 */

export interface TimedPnl {
  /** ms */
  readonly at: number;
  readonly horizonMs: number;
  readonly symbol: string;
  readonly pnlUsd: number;
}

export interface BlockInterval {
  /** null: not enough independent data for an interval (see `warnings`). */
  readonly interval90: [number, number] | null;
  /** Independent blocks of time the interval rests on: bins with a decision over bins per block. */
  readonly blocks: number;
  /** ms: one bin (the horizon plus the typical spacing between decisions). */
  readonly binMs: number;
  readonly binsPerBlock: number;
  readonly symbols: number;
  /** Mean correlation between symbols of their PnL per bin; null when it cannot be measured. */
  readonly crossSymbolCorrelation: number | null;
  /** In words: few blocks, strong correlation, a single symbol, no interval. */
  readonly warnings: readonly string[];
}

/** Below this many independent blocks no interval is given. */
export const MIN_BLOCKS = 8;
/** Below this many the interval is given with a warning that it is rough. */
export const FEW_BLOCKS = 20;
/** A mean cross-symbol correlation of outcomes above this is said in words. */
export const STRONG_CORRELATION = 0.3;
const RESAMPLES = 2000;

const round2 = (v: number) => Math.round(v * 100) / 100;

/** The median of the positive gaps between consecutive decision times (0 when there is none). */
function typicalSpacing(times: readonly number[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < times.length; i++) if (times[i]! > times[i - 1]!) gaps.push(times[i]! - times[i - 1]!);
  if (gaps.length === 0) return 0;
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor((gaps.length - 1) / 2)]!;
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Student's t 95th percentile with ν degrees of freedom (Cornish–Fisher in 1/ν; < 0.5 % off for ν ≥ 3). */
function t95(nu: number): number {
  const z = 1.6448536;
  const [z3, z5, z7] = [z ** 3, z ** 5, z ** 7];
  return z + (z3 + z) / (4 * nu) + (5 * z5 + 16 * z3 + 3 * z) / (96 * nu ** 2) + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * nu ** 3);
}

/** The sample variance over `bins` bins of values given only where not zero. */
function variance(nonZero: Iterable<number>, bins: number): number {
  let sum = 0;
  let squares = 0;
  for (const x of nonZero) {
    sum += x;
    squares += x * x;
  }
  return (squares - (sum * sum) / bins) / (bins - 1);
}

/**
 * Mean pairwise correlation of the symbols' PnL per bin: the variance of the bins' totals against
 * the sum of the symbols' own (Var ΣX = ΣVar X + ρ̄ Σ_{s≠t} σ_s σ_t). Each symbol's bins are kept
 * sparse: a long record at a short horizon has many bins and few of them per symbol.
 */
function crossCorrelation(perSymbol: readonly ReadonlyMap<number, number>[], totals: Float64Array): number | null {
  const bins = totals.length;
  if (perSymbol.length < 2 || bins < 3) return null;
  let sumVar = 0;
  let sumSd = 0;
  for (const xs of perSymbol) {
    const v = variance(xs.values(), bins);
    sumVar += v;
    sumSd += Math.sqrt(v);
  }
  const denominator = sumSd ** 2 - sumVar;
  return denominator > 0 ? (variance(totals, bins) - sumVar) / denominator : null;
}

const duration = (ms: number) =>
  ms >= 3_600_000 ? `${round2(ms / 3_600_000)} h` : ms >= 60_000 ? `${round2(ms / 60_000)} min` : `${round2(ms / 1000)} s`;

export function blockInterval(samples: readonly TimedPnl[], seed = 1, resamples = RESAMPLES): BlockInterval {
  const n = samples.length;
  const symbolNames = [...new Set(samples.map((s) => s.symbol))].sort();
  if (n === 0) return { interval90: null, blocks: 0, binMs: 0, binsPerBlock: 0, symbols: 0, crossSymbolCorrelation: null, warnings: [] };
  const times = samples.map((s) => s.at).sort((a, b) => a - b);
  const t0 = times[0]!;
  const horizon = samples.reduce((max, s) => Math.max(max, s.horizonMs), 0);
  const binMs = Math.max(1, horizon + typicalSpacing(times));
  const bins = Math.floor((times[n - 1]! - t0) / binMs) + 1;
  const sums = new Float64Array(bins);
  const counts = new Float64Array(bins);
  const bySymbol = new Map(symbolNames.map((s) => [s, new Map<number, number>()]));
  for (const s of samples) {
    const b = Math.floor((s.at - t0) / binMs);
    sums[b]! += s.pnlUsd;
    counts[b]! += 1;
    const own = bySymbol.get(s.symbol)!;
    own.set(b, (own.get(b) ?? 0) + s.pnlUsd);
  }
  let filled = 0;
  for (let b = 0; b < bins; b++) if (counts[b]! > 0) filled += 1;
  const binsPerBlock = Math.max(2, Math.round(Math.cbrt(bins)));
  const blocks = Math.floor(filled / binsPerBlock);
  const correlation = crossCorrelation([...bySymbol.values()], sums);
  const warnings: string[] = [];
  const stretch = `${duration(binsPerBlock * binMs)} of time (${binsPerBlock} bins, each the horizon plus the typical spacing)`;
  let interval: [number, number] | null = null;
  if (blocks < MIN_BLOCKS)
    warnings.push(
      `not enough independent data for an interval: ${blocks} independent ${blocks === 1 ? 'block' : 'blocks'} of ${stretch}, under ${MIN_BLOCKS}`,
    );
  else {
    interval = resampledInterval(sums, counts, n, binsPerBlock, blocks, seed, resamples);
    if (interval[1] - interval[0] <= 0) {
      interval = null;
      warnings.push('not enough independent data for an interval: every resample gives the same total');
    } else if (blocks < FEW_BLOCKS) warnings.push(`only ${blocks} independent blocks of ${stretch}: the interval is rough`);
  }
  if (symbolNames.length === 1)
    warnings.push(`every decision is on one symbol (${symbolNames[0]}): the figures speak for it alone, not for a book`);
  else if (correlation !== null && correlation > STRONG_CORRELATION)
    warnings.push(
      `the symbols' outcomes move together (mean correlation ${correlation.toFixed(2)}): they count as one bet on the market, not ${symbolNames.length}`,
    );
  return {
    interval90: interval === null ? null : [round2(interval[0]), round2(interval[1])],
    blocks,
    binMs,
    binsPerBlock,
    symbols: symbolNames.length,
    crossSymbolCorrelation: correlation === null ? null : Math.round(correlation * 100) / 100,
    warnings,
  };
}

/** The moving-block bootstrap's expanded-percentile 90 % interval of the total (see the module comment). */
function resampledInterval(
  sums: Float64Array,
  counts: Float64Array,
  n: number,
  binsPerBlock: number,
  blocks: number,
  seed: number,
  resamples: number,
): [number, number] {
  const bins = sums.length;
  const starts = bins - binsPerBlock + 1;
  // Running sums so a block's sum is one subtraction.
  const cumSum = new Float64Array(bins + 1);
  const cumCount = new Float64Array(bins + 1);
  for (let b = 0; b < bins; b++) {
    cumSum[b + 1] = cumSum[b]! + sums[b]!;
    cumCount[b + 1] = cumCount[b]! + counts[b]!;
  }
  const draws = Math.ceil(bins / binsPerBlock);
  const random = seeded(seed);
  const totals: number[] = [];
  while (totals.length < resamples) {
    let s = 0;
    let c = 0;
    for (let k = 0; k < draws; k++) {
      const start = Math.floor(random() * starts);
      s += cumSum[start + binsPerBlock]! - cumSum[start]!;
      c += cumCount[start + binsPerBlock]! - cumCount[start]!;
    }
    if (c > 0) totals.push((s / c) * n);
  }
  totals.sort((a, b) => a - b);
  const tail = normalCdf(-Math.sqrt(blocks / (blocks - 1)) * t95(blocks - 1));
  const at = (q: number) => totals[Math.min(totals.length - 1, Math.max(0, Math.round(q * (totals.length - 1))))]!;
  return [at(tail), at(1 - tail)];
}
