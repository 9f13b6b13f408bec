import { describe, expect, it } from 'vitest';
import { planAge, priceOpen } from '../../handlers/governor/plan-checks.js';

const NOW = 1_795_000_000_000;
const SKEW = 5;

describe('plan age: the earliest time that vouches for the plan', () => {
  it.each([
    ['an entry of now, stamped now', { entryMs: NOW, timestamp: NOW / 1000 }, 0],
    ['an entry 10 minutes old stamped now (the stamp cannot make it younger)', { entryMs: NOW - 600_000, timestamp: NOW / 1000 }, 600],
    ['a fresh entry of a plan stamped 2 minutes ago', { entryMs: NOW, timestamp: NOW / 1000 - 120 }, 120],
    ['a timestamp in milliseconds', { entryMs: NOW, timestamp: NOW - 30_000 }, 30],
    ['a timestamp in microseconds', { entryMs: NOW, timestamp: (NOW - 30_000) * 1000 }, 30],
    ['a timestamp in nanoseconds', { entryMs: NOW, timestamp: (NOW - 30_000) * 1_000_000 }, 30],
    ['no timestamp: the entry', { entryMs: NOW - 45_000 }, 45],
    [
      'a dead letter replayed now, first written two hours ago',
      { entryMs: NOW, originalEntryMs: NOW - 7_200_000, timestamp: NOW / 1000 },
      7200,
    ],
    ['a timestamp 3 s ahead (within the skew)', { entryMs: NOW, timestamp: NOW / 1000 + 3 }, 0],
  ])('%s', (_name, times, ageSec) => {
    expect(planAge(times, NOW, SKEW)).toMatchObject({ kind: 'age', ageSec });
  });

  it("keeps the entry's own age beside it: a close's age, whatever its producer's clock says", () => {
    expect(planAge({ entryMs: NOW - 2_000, timestamp: NOW / 1000 - 600 }, NOW, SKEW)).toEqual({ kind: 'age', ageSec: 600, entryAgeSec: 2 });
  });

  it.each([
    ['an hour ahead', { entryMs: NOW, timestamp: NOW / 1000 + 3600 }, 'plan_time_in_future'],
    ['an hour ahead in microseconds', { entryMs: NOW, timestamp: (NOW + 3_600_000) * 1000 }, 'plan_time_in_future'],
    ['99999999999 (no unit)', { entryMs: NOW, timestamp: 99_999_999_999 }, 'plan_time_unknown_unit'],
    ['a negative timestamp', { entryMs: NOW, timestamp: -5 }, 'plan_time_unknown_unit'],
  ])('blocks a timestamp %s, the plan aged by its entry', (_name, times, reason) => {
    expect(planAge(times, NOW, SKEW)).toMatchObject({ kind: 'block', reason, ageSec: 0, entryAgeSec: 0 });
    expect(planAge({ ...times, entryMs: NOW - 90_000 }, NOW, SKEW)).toMatchObject({ kind: 'block', reason, ageSec: 90, entryAgeSec: 90 });
  });

  it("names Redis's clock when a timestamp is ahead of it", () => {
    expect(planAge({ entryMs: NOW, timestamp: NOW / 1000 + 8 }, NOW, SKEW)).toMatchObject({
      detail: expect.stringContaining("8 s ahead of Redis's clock") as unknown,
    });
  });
});

describe('pricing an open at the market: the plan figures are cross-checks', () => {
  const TOLERANCE = 5;

  it('prices qty × mark, and the plan price and notional only confirm it', () => {
    expect(priceOpen({ qty: 0.002, price: 100_000, notional: 200 }, 100_000, TOLERANCE)).toEqual({
      kind: 'priced',
      qty: 0.002,
      markPrice: 100_000,
      notional: 200,
    });
    expect(priceOpen({ qty: 0.002, price: undefined, notional: undefined }, 100_000, TOLERANCE)).toMatchObject({
      kind: 'priced',
      notional: 200,
    });
    expect(priceOpen({ qty: 0.002, price: 103_000, notional: undefined }, 100_000, TOLERANCE)).toMatchObject({ kind: 'priced' });
  });

  it.each([
    ['qty 1000 at the plan price "0", no market price', { qty: 1000, price: 0, notional: undefined }, undefined, 'market_price_unknown'],
    [
      'qty 1000, price 0.0 and notional 5,000,000, no market price',
      { qty: 1000, price: 0, notional: 5_000_000 },
      undefined,
      'market_price_unknown',
    ],
    ['qty 1000 at price 1e-9, no market price', { qty: 1000, price: 1e-9, notional: undefined }, undefined, 'market_price_unknown'],
    ['qty 1000 at price 1e-9 against a mark of 100', { qty: 1000, price: 1e-9, notional: undefined }, 100, 'plan_price_mismatch'],
    ['qty 0 at mark 100,000 with notional 1,000,000', { qty: 0, price: undefined, notional: 1_000_000 }, 100_000, 'plan_qty_invalid'],
    ['no qty', { qty: undefined, price: 100_000, notional: 200 }, 100_000, 'plan_qty_invalid'],
    [
      'qty 0.001 at 100,000 with notional 1,000,000 (the smaller figure must not win)',
      { qty: 0.001, price: undefined, notional: 1_000_000 },
      100_000,
      'plan_notional_mismatch',
    ],
    ['a mark price of 0', { qty: 1, price: undefined, notional: undefined }, 0, 'market_price_unknown'],
    ['a non-finite qty', { qty: Number.POSITIVE_INFINITY, price: undefined, notional: undefined }, 100, 'plan_qty_invalid'],
  ])('blocks %s', (_name, figures, mark, reason) => {
    expect(priceOpen(figures, mark, TOLERANCE)).toMatchObject({ kind: 'block', reason });
  });
});
