/**
 * `npx tsx bench/interval-coverage.ts`: how often the 90 % interval of `report outcomes` and
 * `report calibrate` covers the true effect, over many seeds of synthetic books with the effect
 * known (test/support/coverage-books.ts), beside a bootstrap that resamples single decisions and
 * one that resamples symbols (the two ways that do not respect time). The suite's check
 * (test/unit/interval-coverage.test.ts) runs the same books over fewer seeds.
 *
 * COVERAGE_SEEDS=n (default 400) seeds per book; COVERAGE_BOOKS=suite for the suite's books only.
 */
import { blockInterval, type TimedPnl } from '../cli/report/time-blocks.js';
import { seeded } from '../cli/report/seeded-random.js';
import { drawBook, SHORT_BOOK, SUITE_BOOKS, type Book } from '../test/support/coverage-books.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const seeds = Number(process.env.COVERAGE_SEEDS ?? 400);

/** The longer scenarios: the suite's books at more horizons, and a day of traffic. */
const LONG_BOOKS: readonly Book[] = [
  ...[15_000, MIN, 2 * MIN].map((h) => ({ ...SUITE_BOOKS[0]!, name: `8 independent symbols, ${h / 1000} s`, horizonMs: h })),
  ...[15_000, MIN, 2 * MIN].map((h) => ({ ...SUITE_BOOKS[1]!, name: `8 symbols, ρ 0.6, ${h / 1000} s`, horizonMs: h })),
  ...[MIN, 5 * MIN].map((h) => ({ ...SUITE_BOOKS[2]!, name: `30 symbols, ρ 0.6, ${h / 1000} s`, horizonMs: h })),
  ...[MIN, 5 * MIN].map((h) => ({ ...SUITE_BOOKS[2]!, rho: 0, name: `30 independent symbols, ${h / 1000} s`, horizonMs: h })),
  SUITE_BOOKS[3]!,
  ...[MIN, 5 * MIN].map((h) => ({ ...SUITE_BOOKS[4]!, name: `one symbol, ${h / 1000} s`, horizonMs: h })),
  { ...SUITE_BOOKS[2]!, symbols: 8, everyMs: 30_000, spanMs: 24 * HOUR, stepMs: 30_000, name: 'a day, 8 symbols, ρ 0.6, 5 m' },
  SHORT_BOOK,
];

/** The old ways: percentile bootstrap of the total over single decisions, or over whole symbols. */
function groupedInterval(samples: readonly TimedPnl[], group: (s: TimedPnl, i: number) => string): [number, number] {
  const by = new Map<string, number>();
  samples.forEach((s, i) => by.set(group(s, i), (by.get(group(s, i)) ?? 0) + s.pnlUsd));
  const totals = [...by.values()];
  const random = seeded(1);
  const out: number[] = [];
  for (let b = 0; b < 2000; b++) {
    let t = 0;
    for (let i = 0; i < totals.length; i++) t += totals[Math.floor(random() * totals.length)]!;
    out.push(t);
  }
  out.sort((a, b) => a - b);
  return [out[Math.round(0.05 * 1999)]!, out[Math.round(0.95 * 1999)]!];
}

const books = process.env.COVERAGE_BOOKS === 'suite' ? SUITE_BOOKS : LONG_BOOKS;
console.log(`${seeds} seeds per book; covered / given (an interval given), and how often none was given`);
console.log(
  `${'book'.padEnd(44)} ${'decisions'.padStart(9)} ${'blocks'.padStart(6)}  ${'time blocks'.padStart(12)} ${'none'.padStart(5)}  ${'decisions'.padStart(9)}  ${'symbols'.padStart(7)}`,
);
for (const book of books) {
  let covered = 0;
  let given = 0;
  let naive = 0;
  let bySymbol = 0;
  let decisions = 0;
  let blocks = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const { samples, truth } = drawBook(book, seed);
    decisions += samples.length;
    const b = blockInterval(samples, seed);
    blocks += b.blocks;
    if (b.interval90 !== null) {
      given += 1;
      if (b.interval90[0] <= truth && truth <= b.interval90[1]) covered += 1;
    }
    const d = groupedInterval(samples, (_, i) => String(i));
    if (d[0] <= truth && truth <= d[1]) naive += 1;
    const s = groupedInterval(samples, (x) => x.symbol);
    if (s[0] <= truth && truth <= s[1]) bySymbol += 1;
  }
  const pct = (a: number, b: number) => (b === 0 ? '—' : `${((a / b) * 100).toFixed(1)} %`);
  console.log(
    `${book.name.padEnd(44)} ${String(Math.round(decisions / seeds)).padStart(9)} ${String(Math.round(blocks / seeds)).padStart(6)}  ` +
      `${pct(covered, given).padStart(12)} ${pct(seeds - given, seeds).padStart(5)}  ${pct(naive, seeds).padStart(9)}  ${pct(bySymbol, seeds).padStart(7)}`,
  );
}
