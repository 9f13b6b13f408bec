/**
 * JSON and numbers as the Python services wrote them, so a key or field we write is byte for byte
 * the original's: json.dumps (separators ", " and ": ", ensure_ascii) and repr(float) (a float
 * always carries a point or an exponent: 0.0, 1738015443.25, 1e-05, 1e+16). Readers need none of
 * this: any JSON parser reads both.
 */

/** A number Python held as a float (json.dumps writes 0.0, not 0). */
export interface PyFloat {
  readonly pyFloat: number;
}

export const pyFloat = (value: number): PyFloat => ({ pyFloat: value });

/** What json.dumps is given: ints are plain numbers, floats are wrapped. */
export type PyValue = string | number | boolean | null | PyFloat | readonly PyValue[] | { readonly [key: string]: PyValue };

/** repr(float): the shortest round-trip digits (as JS), laid out by Python's rules. */
export function pyFloatRepr(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const [mantissa = '0', exponentText = '0'] = value.toExponential().split('e');
  const exponent = Number(exponentText);
  // Python writes positional notation for exponents in [-4, 16), scientific otherwise.
  if (exponent >= -4 && exponent < 16) {
    const fixed = exponent < 0 ? value.toFixed(mantissa.replace(/^-/, '').replace('.', '').length - 1 - exponent) : plainDigits(value);
    return fixed.includes('.') ? fixed : `${fixed}.0`;
  }
  const sign = exponent < 0 ? '-' : '+';
  return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
}

/** A number in [1, 1e16) positionally, with the shortest digits (String() already is, below 1e21). */
function plainDigits(value: number): string {
  return String(value);
}

function isPyFloat(value: PyValue): value is PyFloat {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { pyFloat?: unknown }).pyFloat === 'number' && Object.keys(value).length === 1;
}

/** json.dumps(value) with its defaults (ensure_ascii, ", " and ": "). */
export function pyJsonDumps(value: PyValue): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : pyFloatRepr(value);
  if (typeof value === 'string') return pyString(value);
  if (isPyFloat(value)) return pyFloatRepr(value.pyFloat);
  if (Array.isArray(value)) return `[${(value as readonly PyValue[]).map(pyJsonDumps).join(', ')}]`;
  const record = value as { readonly [key: string]: PyValue };
  return `{${Object.keys(record).map((key) => `${pyString(key)}: ${pyJsonDumps(record[key]!)}`).join(', ')}}`;
}

/** A JSON string with every non-ASCII character escaped, as ensure_ascii does. */
function pyString(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** time.time() as Python wrote it in a stream field (str(float)): seconds with a point. */
export function pySeconds(ms: number): string {
  return pyFloatRepr(ms / 1000);
}
