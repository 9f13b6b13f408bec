import { describe, expect, it } from 'vitest';
import { epochMs, readEpoch } from '../../domain/epoch.js';

const AT_MS = 1_738_015_443_200; // 2025-01-27T22:04:03.200Z

describe('epoch time in any unit (domain/epoch.ts)', () => {
  it.each([
    ['seconds with a fraction, as Python writes time.time()', 1_738_015_443.2, 's'],
    ['milliseconds', AT_MS, 'ms'],
    ['microseconds', AT_MS * 1000, 'us'],
    ['nanoseconds', AT_MS * 1_000_000, 'ns'],
  ] as const)('reads %s', (_what, value, unit) => {
    const reading = readEpoch(value);
    expect(reading).toMatchObject({ ok: true, unit });
    expect(reading.ok && Math.abs(reading.ms - AT_MS)).toBeLessThan(1);
  });

  it.each([
    ['99999999999 (between seconds and milliseconds)', 99_999_999_999, 'unknown_unit'],
    ['a year before 2001 in seconds', 900_000_000, 'unknown_unit'],
    ['a value past 2286 in nanoseconds', 2e19, 'unknown_unit'],
    ['zero', 0, 'not_positive'],
    ['a negative time', -1_738_015_443, 'not_positive'],
    ['NaN', Number.NaN, 'not_positive'],
    ['Infinity', Number.POSITIVE_INFINITY, 'not_positive'],
  ] as const)('rejects %s', (_what, value, problem) => {
    expect(readEpoch(value)).toEqual({ ok: false, problem });
    expect(epochMs(value)).toBeUndefined();
  });

  it('puts the window edges in exactly one unit', () => {
    expect(readEpoch(1e9)).toMatchObject({ ok: true, unit: 's' });
    expect(readEpoch(1e10 - 1)).toMatchObject({ ok: true, unit: 's' });
    expect(readEpoch(1e10)).toEqual({ ok: false, problem: 'unknown_unit' });
    expect(readEpoch(1e12)).toMatchObject({ ok: true, unit: 'ms' });
  });
});
