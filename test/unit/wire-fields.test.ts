import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wireFields } from '../../schemas/heat-gate.js';

describe('wireFields', () => {
  it('keeps the string fields of a record in order, on a record without Object.prototype', () => {
    const stringFields = (record: object) => {
      const out: Record<string, string> = {};
      for (const [name, value] of Object.entries(record)) if (typeof value === 'string') out[name] = value;
      return out;
    };
    fc.assert(
      // A plain object drops a key named __proto__ (assigning a string to it does nothing);
      // wireFields' null-prototype record keeps it, so it is left out of the comparison.
      fc.property(
        fc.dictionary(
          fc.string().filter((key) => key !== '__proto__'),
          fc.oneof(fc.string(), fc.constant(undefined), fc.integer()),
        ),
        (record) => {
          const wire = wireFields(record);
          expect(Object.keys(wire)).toEqual(Object.keys(stringFields(record)));
          expect({ ...wire }).toEqual(stringFields(record));
          expect(Object.getPrototypeOf(wire)).not.toBe(Object.prototype);
        },
      ),
      { numRuns: 300 },
    );
  });
});
