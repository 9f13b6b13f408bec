export { parseNumber } from '../../schemas/fields.js';

/**
 * Epoch milliseconds from a timestamp that other services write in seconds (1738015443.2) or
 * milliseconds; anything below 1e11 is taken as seconds (1e11 ms is 1973, 1e11 s is year 5138).
 */
export function epochMs(value: number): number {
  return Math.abs(value) < 1e11 ? value * 1000 : value;
}

/**
 * Money rounded to 1e-8 USD, so float noise (0.002 × 100000 = 200.00000000000003) can never push
 * a trade exactly at a cap over it.
 */
export function usd(value: number): number {
  return Math.round(value * 1e8) / 1e8;
}
