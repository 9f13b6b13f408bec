/**
 * The lowest and highest of many numbers. Math.min(...values) passes every value as an argument
 * and throws RangeError past the engine's argument limit (a few hundred thousand on V8), which a
 * week of recorded decisions reaches; these walk the values instead.
 */
export function lowest(values: Iterable<number>): number {
  let low = Infinity;
  for (const v of values) if (v < low) low = v;
  return low;
}

export function highest(values: Iterable<number>): number {
  let high = -Infinity;
  for (const v of values) if (v > high) high = v;
  return high;
}
