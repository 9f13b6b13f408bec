/**
 * Numbers as the original Python services wrote them into Redis: `str(float)` (shortest
 * round-trip digits, scientific below 1e-4 and from 1e16, always a `.0` on whole numbers) and
 * `round(x, n)` (correctly rounded, ties to even). Fields such as heat_value and heat_score are
 * compared as strings by scripts and dashboards, so the text must be the original's, not JS's.
 */

/** Python's repr/str of a float: 0.0, 0.027, 1e-05, 1.5e+16, inf, nan. */
export function pythonFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  // toExponential() without an argument gives the shortest digits that round-trip, as repr does.
  const [mantissa, exponentText] = value.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exponent < -4 || exponent >= 16) {
    const body = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    const expSign = exponent < 0 ? '-' : '+';
    return `${sign}${body}e${expSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return `${sign}${whole}.${fraction === '' ? '0' : fraction}`;
}

/** Python's round(value, places) for non-negative finite values: nearest, exact ties to even. */
export function pythonRound(value: number, places: number): number {
  // value is an exact tie at `places` digits only if value × 2^(places+1) is an odd integer
  // (the tie is N / (2·10^places) with N odd, and a double is a binary fraction). toFixed rounds
  // such a tie up; Python rounds it to even.
  const twice = value * 2 ** (places + 1);
  if (Number.isInteger(twice) && twice % 2 === 1) {
    const lower = (twice * 5 ** places - 1) / 2;
    return (lower % 2 === 0 ? lower : lower + 1) / 10 ** places;
  }
  return Number(value.toFixed(places));
}
