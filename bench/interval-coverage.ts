/**
 * `npx tsx bench/interval-coverage.ts`: how often the 90 % interval of `report outcomes` and
 * `report calibrate` covers the true effect, over many seeds of synthetic books with the effect
 * known (test/support/coverage-books.ts), beside two bootstraps that do not respect time: the
 * wider of one over symbols and one over runs of overlapping decisions, and one over single
 * decisions. The suite's check
 * (test/unit/interval-coverage.test.ts) runs the same books over fewer seeds.
 *
 * COVERAGE_SEEDS=n (default 400) seeds per book; COVERAGE_BOOKS=suite for the suite's books only.
 */
import { blockInterval, type TimedPnl } from '../domain/time-blocks.js';
import { seeded } from '../domain/seeded-random.js';
import { drawBook, SHORT_BOOK, SUITE_BOOKS, type Book } from '../test/support/coverage-books.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const seeds = Number(process.env.COVERAGE_SEEDS ?? 400);

/** The longer scenarios: the suite's books at more horizons, and a day of traffic. */
const LONG_BOOKS: readonly Book[] = [
  ...[15_000, MIN, 2 * MIN].map((h) => ({ ...SUITE_BOOKS[0]!, name: `8 independent symbols, ${h / 1000} s`, horizonMs: h, stepMs: 5000 })),
  ...[15_000, MIN, 2 * MIN].map((h) => ({ ...SUITE_BOOKS[1]!, name: `8 symbols, ρ 0.6, ${h / 1000} s`, horizonMs: h, stepMs: 5000 })),
  ...[MIN, 5 * MIN].map((h) => ({ ...SUITE_BOOKS[2]!, name: `30 symbols, ρ 0.6, ${h / 1000} s`, horizonMs: h })),
  ...[MIN, 5 * MIN].map((h) => ({ ...SUITE_BOOKS[2]!, rho: 0, name: `30 independent symbols, ${h / 1000} s`, horizonMs: h })),
  SUITE_BOOKS[3]!,
  ...[MIN, 5 * MIN].map((h) => ({ ...SUITE_BOOKS[4]!, name: `one symbol, ${h / 1000} s`, horizonMs: h })),
  { ...SUITE_BOOKS[2]!, symbols: 8, everyMs: 30_000, spanMs: 24 * HOUR, stepMs: 30_000, name: 'a day, 8 symbols, ρ 0.6, 5 m' },
  SHORT_BOOK,
];

/**
 * The ways that do not respect time, for comparison: a percentile bootstrap of the total over
 * groups (`resamples` draws). Over single decisions with 400 draws (not 2,000: there are thousands
 * of decisions a seed, and the 5th and 95th percentiles move by under a point of coverage).
 */
function groupedInterval(samples: readonly TimedPnl[], groups: readonly (readonly number[])[], resamples = 2000): [number, number] {
  const totals = groups.map((g) => g.reduce((sum, i) => sum + samples[i]!.pnlUsd, 0));
  const random = seeded(1);
  const out: number[] = [];
  for (let b = 0; b < resamples; b++) {
    let t = 0;
    for (let i = 0; i < totals.length; i++) t += totals[Math.floor(random() * totals.length)]!;
    out.push(t);
  }
  out.sort((a, b) => a - b);
  return [out[Math.round(0.05 * (resamples - 1))]!, out[Math.round(0.95 * (resamples - 1))]!];
}

function bySymbol(samples: readonly TimedPnl[]): number[][] {
  const by = new Map<string, number[]>();
  samples.forEach((s, i) => by.set(s.symbol, [...(by.get(s.symbol) ?? []), i]));
  return [...by.values()];
}

/** Runs of decisions whose horizons overlap, any symbol. */
function overlapRuns(samples: readonly TimedPnl[]): number[][] {
  const order = samples.map((_, i) => i).sort((a, b) => samples[a]!.at - samples[b]!.at || a - b);
  const out: number[][] = [];
  let end = -Infinity;
  for (const i of order) {
    if (out.length === 0 || samples[i]!.at >= end) out.push([]);
    out[out.length - 1]!.push(i);
    end = Math.max(end, samples[i]!.at + samples[i]!.horizonMs);
  }
  return out;
}

/** The wider of the bootstraps over symbols and over runs of overlapping decisions. */
function symbolOrRunInterval(samples: readonly TimedPnl[]): [number, number] {
  const a = groupedInterval(samples, bySymbol(samples));
  const b = groupedInterval(samples, overlapRuns(samples));
  return b[1] - b[0] > a[1] - a[0] ? b : a;
}

const books = process.env.COVERAGE_BOOKS === 'suite' ? SUITE_BOOKS : LONG_BOOKS;
const covers = (i: readonly [number, number], truth: number) => i[0] <= truth && truth <= i[1];
const pct = (a: number, b: number) => (b === 0 ? '—' : `${((a / b) * 100).toFixed(1)} %`);
console.log(`${seeds} seeds per book: how often each 90 % interval covered the truth (time blocks: of the seeds that gave one)`);
console.log(
  `${'book'.padEnd(40)} ${'decisions'.padStart(9)} ${'blocks'.padStart(6)} ${'time blocks'.padStart(11)} ${'none'.padStart(7)} ${'symbols or runs'.padStart(16)} ${'decisions'.padStart(13)}`,
);
for (const book of books) {
  const tally = { covered: 0, given: 0, bySymbolOrRun: 0, byDecision: 0, decisions: 0, blocks: 0 };
  for (let seed = 1; seed <= seeds; seed++) {
    const { samples, truth } = drawBook(book, seed);
    tally.decisions += samples.length;
    const b = blockInterval(samples, seed);
    tally.blocks += b.blocks;
    if (b.interval90 !== null) {
      tally.given += 1;
      if (covers(b.interval90, truth)) tally.covered += 1;
    }
    if (covers(symbolOrRunInterval(samples), truth)) tally.bySymbolOrRun += 1;
    if (
      covers(
        groupedInterval(
          samples,
          samples.map((_, i) => [i]),
          400,
        ),
        truth,
      )
    )
      tally.byDecision += 1;
  }
  const t = tally;
  console.log(
    `${book.name.padEnd(40)} ${String(Math.round(t.decisions / seeds)).padStart(9)} ${String(Math.round(t.blocks / seeds)).padStart(6)} ` +
      `${pct(t.covered, t.given).padStart(11)} ${pct(seeds - t.given, seeds).padStart(7)} ${pct(t.bySymbolOrRun, seeds).padStart(16)} ${pct(t.byDecision, seeds).padStart(13)}`,
  );
}
