/**
 * Python's min() and max() of two numbers, which the original services' formulas use: the second
 * argument wins only when strictly smaller (larger), so a NaN second argument loses and a NaN first
 * one wins. The budget rule clamps with them, so a NaN sum gives what the original gave.
 */
export function pyMin(a: number, b: number): number {
  return b < a ? b : a;
}

export function pyMax(a: number, b: number): number {
  return b > a ? b : a;
}
