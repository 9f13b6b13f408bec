import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareStreamIds, fieldsToRecord, idBefore } from '../../schemas/fields.js';

describe('fieldsToRecord', () => {
  it('keeps every field as data, whatever its name, and inherits nothing', () => {
    const record = fieldsToRecord(['__proto__', 'a', 'toString', 'b', 'plan_id', 'P1']);
    expect(Object.keys(record)).toEqual(['__proto__', 'toString', 'plan_id']);
    expect(record.__proto__).toBe('a');
    expect(record.toString).toBe('b');
    expect(record.constructor).toBeUndefined();
    expect('hasOwnProperty' in record).toBe(false);
    expect({ ...record }).toMatchObject({ plan_id: 'P1', toString: 'b' });
  });

  it('lets a later value of a repeated field win, and ignores a dangling name', () => {
    expect({ ...fieldsToRecord(['a', '1', 'a', '2', 'b']) }).toEqual({ a: '2' });
  });
});

describe('compareStreamIds', () => {
  const exact = (a: string, b: string) => {
    const [aMs, aSeq] = a.split('-').map((p) => (/^\d+$/.test(p) ? BigInt(p) : 0n));
    const [bMs, bSeq] = b.split('-').map((p) => (/^\d+$/.test(p) ? BigInt(p) : 0n));
    if (aMs !== bMs) return aMs! < bMs! ? -1 : 1;
    return aSeq === bSeq ? 0 : aSeq! < bSeq! ? -1 : 1;
  };
  const part = fc.oneof(
    fc.constant(0n),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    fc.bigInt({ min: 1_700_000_000_000n, max: 1_700_000_000_999n }),
  );
  const id = fc
    .tuple(part, fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 40n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })))
    .map(([ms, seq]) => `${ms}-${seq}`);

  it('orders ids as Redis writes them exactly as numbers would', () => {
    fc.assert(
      fc.property(id, id, (a, b) => {
        expect(compareStreamIds(a, b)).toBe(exact(a, b));
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    ['9-0', '10-0', -1],
    ['10-9', '10-10', -1],
    ['10-10', '10-9', 1],
    ['1700000000000-5', '1700000000000-5', 0],
    ['010-1', '9-1', 1],
    ['5', '5-0', 0],
    ['x-1', '0-1', 0],
  ])('compares %s with %s as %i', (a, b, expected) => {
    expect(compareStreamIds(a, b)).toBe(expected);
  });
});

describe('idBefore', () => {
  it.each([
    ['5-3', '5-2'],
    ['5-0', '4-18446744073709551615'],
    ['0-0', '0'],
    ['1700000000000', '1699999999999-18446744073709551615'],
  ])('the id just before %s is %s', (id, before) => {
    expect(idBefore(id)).toBe(before);
    if (before !== '0') expect(compareStreamIds(before, id)).toBe(-1);
  });
});
