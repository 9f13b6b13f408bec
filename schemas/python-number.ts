/**
 * Numbers as the original Python services read and wrote them. Where the pipeline reads what a
 * Python service wrote (`str(1348.0)` is "1348.0", `str(1e-05)` is "1e-05") or where a Python
 * service decided on what it read (`float(" 1_000 ")` is 1000.0, `float("nan")` is nan, `int("1.5")`
 * raises), a drop-in must read and write the same text.
 */

/** Python's float(): surrounding whitespace, an optional sign, underscores between digits, inf/nan. */
const PY_FLOAT = /^[+-]?(?:(?:\d(?:_?\d)*)(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const PY_FLOAT_SPECIAL = /^([+-]?)(inf|infinity|nan)$/i;
/** Python's int() of a string in base 10. */
const PY_INT = /^[+-]?\d(?:_?\d)*$/;

/** float(text) in Python; undefined where Python raises ValueError. */
export function parsePyFloat(text: string | null | undefined): number | undefined {
  if (text === null || text === undefined) return undefined;
  const s = text.trim();
  const special = PY_FLOAT_SPECIAL.exec(s);
  if (special) {
    if (special[2]!.toLowerCase() === 'nan') return NaN;
    return special[1] === '-' ? -Infinity : Infinity;
  }
  if (!PY_FLOAT.test(s)) return undefined;
  return Number(s.replaceAll('_', ''));
}

/** int(text) in Python (base 10); undefined where Python raises ValueError. */
export function parsePyInt(text: string | null | undefined): number | undefined {
  if (text === null || text === undefined) return undefined;
  const s = text.trim();
  if (!PY_INT.test(s)) return undefined;
  return Number(s.replaceAll('_', ''));
}

/**
 * str(x) / repr(x) of a Python float (json.dumps writes a finite one the same way): the shortest digits
 * that read back as x (as JavaScript's), laid out as Python does: "500.0", "0.0001", "1e-05",
 * "1.5e+16", "inf", "nan", "-0.0".
 */
export function pyFloatStr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa, exponentText] = Math.abs(x).toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  // Python switches to exponent notation below 1e-4 and from 1e16 on.
  if (exponent < -4 || exponent >= 16) {
    return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  const digits = mantissa.replace('.', '');
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  if (digits.length <= exponent + 1) return `${sign}${digits}${'0'.repeat(exponent + 1 - digits.length)}.0`;
  return `${sign}${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
}

/** Python's min() and max() live with the rules that use them (the budget rule). */
export { pyMax, pyMin } from '../domain/python-order.js';

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

/** time.time() as Python wrote it in a field (str(float)): seconds with a point, from milliseconds. */
export function pySeconds(ms: number): string {
  return pyFloatStr(ms / 1000);
}
