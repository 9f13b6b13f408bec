import { describe, expect, it } from 'vitest';
import { highest, lowest } from '../../domain/extent.js';

describe('lowest and highest', () => {
  it('take more values than a call can have arguments (a week of decisions)', () => {
    const many = Array.from({ length: 1_000_000 }, (_, i) => (i * 7919) % 1_000_003);
    expect(() => Math.min(...many)).toThrow(RangeError);
    expect(lowest(many)).toBe(0);
    expect(highest(many)).toBe(many.reduce((a, b) => (b > a ? b : a)));
  });

  it('are Infinity and -Infinity for no values, as Math.min() and Math.max() are', () => {
    expect(lowest([])).toBe(Infinity);
    expect(highest([])).toBe(-Infinity);
  });
});
