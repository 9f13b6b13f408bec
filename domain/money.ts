/**
 * Money rounded to 1e-8 USD, so float noise (0.002 × 100000 = 200.00000000000003) can never push
 * a trade exactly at a cap over it. Every comparison of dollars against a cap goes through this.
 */
export function usd(value: number): number {
  return Math.round(value * 1e8) / 1e8;
}
