export { parseNumber } from '../../schemas/fields.js';
export { usd } from '../../domain/money.js';

/**
 * Epoch milliseconds from a timestamp that other services write in seconds (1738015443.2) or
 * milliseconds; anything below 1e11 is taken as seconds (1e11 ms is 1973, 1e11 s is year 5138).
 */
export function epochMs(value: number): number {
  return Math.abs(value) < 1e11 ? value * 1000 : value;
}
