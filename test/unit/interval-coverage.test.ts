import { describe, expect, it } from 'vitest';
import { blockInterval } from '../../domain/time-blocks.js';
import { drawBook, SHORT_BOOK, SUITE_BOOKS } from '../support/coverage-books.js';

/**
 * How often the 90 % interval of `report outcomes` and `report calibrate` covers the truth, on
 * books whose true effect is known: independent symbols, symbols moved by a market factor, bursts
 * of decisions on one symbol, a single symbol (test/support/coverage-books.ts). 200 seeds a book:
 * a coverage of 90 % is measured to ±2 points (one standard error), so 85–95 % holds a right
 * interval and fails one that covers 80 % or less. bench/interval-coverage.ts runs 400 seeds of
 * more books beside the bootstraps over decisions and over symbols.
 */

const SEEDS = 200;

describe('the 90 % interval covers the truth', () => {
  for (const book of SUITE_BOOKS)
    it(`${book.name}: covers 85–95 % of ${SEEDS} seeds`, () => {
      let given = 0;
      let covered = 0;
      for (let seed = 1; seed <= SEEDS; seed++) {
        const { samples, truth } = drawBook(book, seed);
        const interval = blockInterval(samples, seed).interval90;
        if (interval === null) continue;
        given += 1;
        if (interval[0] <= truth && truth <= interval[1]) covered += 1;
      }
      // Each book holds 20–30 independent blocks: an interval nearly every time.
      expect(given).toBeGreaterThanOrEqual(0.95 * SEEDS);
      expect(covered / given).toBeGreaterThanOrEqual(0.85);
      expect(covered / given).toBeLessThanOrEqual(0.95);
    });

  it(`${SHORT_BOOK.name}: no interval, "not enough independent data"`, () => {
    for (let seed = 1; seed <= 20; seed++) {
      const b = blockInterval(drawBook(SHORT_BOOK, seed).samples, seed);
      expect(b.interval90).toBeNull();
      expect(b.warnings[0]).toMatch(/^not enough independent data for an interval: \d independent blocks? of /);
    }
  });
});
