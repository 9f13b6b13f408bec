import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatPyFloat, pyFloatStr, pythonRound, roundHalfEven } from '../../schemas/python-number.js';
import { wireFields } from '../../schemas/heat-gate.js';

/** Doubles with repeats, both zeros, NaN and the infinities, in any order: what a cache could confuse. */
const doubles = fc.array(fc.oneof(fc.double(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 0.1, 0.25, 1e-5)), { maxLength: 40 });
const withRepeats = doubles.chain((xs) => fc.shuffledSubarray([...xs, ...xs, ...xs], { minLength: 0 }));

describe('the number formatting caches (issue #24 item 5)', () => {
  it('pyFloatStr answers what the uncached formatting does, for any sequence of calls', () => {
    fc.assert(
      fc.property(withRepeats, (xs) => {
        for (const x of xs) expect(pyFloatStr(x)).toBe(formatPyFloat(x));
      }),
      { numRuns: 500 },
    );
    // -0 right after 0 and back: the cache keys by Object.is.
    expect([pyFloatStr(0), pyFloatStr(-0), pyFloatStr(0)]).toEqual(['0.0', '-0.0', '0.0']);
  });

  it('pythonRound answers what the uncached rounding does, for any sequence of calls', () => {
    const calls = fc.array(
      fc.tuple(
        fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constantFrom(0.00125, 0.5, 2.675)),
        fc.integer({ min: 0, max: 8 }),
      ),
      {
        maxLength: 40,
      },
    );
    fc.assert(
      fc.property(
        calls.chain((cs) => fc.shuffledSubarray([...cs, ...cs], { minLength: 0 })),
        (cs) => {
          for (const [value, places] of cs) expect(Object.is(pythonRound(value, places), roundHalfEven(value, places))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('wireFields keeps the string fields of a record in order, as Object.entries did', () => {
    const oldWireFields = (record: object) => {
      const out: Record<string, string> = {};
      for (const [name, value] of Object.entries(record)) if (typeof value === 'string') out[name] = value;
      return out;
    };
    fc.assert(
      // fast-check now and then names a key __proto__, which the old code's plain object dropped
      // (assigning a string to __proto__ does nothing) and wireFields' null-prototype record keeps.
      fc.property(
        fc.dictionary(
          fc.string().filter((key) => key !== '__proto__'),
          fc.oneof(fc.string(), fc.constant(undefined), fc.integer()),
        ),
        (record) => {
          const now = wireFields(record);
          expect(Object.keys(now)).toEqual(Object.keys(oldWireFields(record)));
          expect({ ...now }).toEqual(oldWireFields(record));
          expect(Object.getPrototypeOf(now)).not.toBe(Object.prototype);
        },
      ),
      { numRuns: 300 },
    );
  });
});
