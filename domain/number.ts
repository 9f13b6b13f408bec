/**
 * Numbers written as text: stream fields, Redis hashes and environment variables are all read by
 * this one rule, so a value one reader accepts is never one another reader guesses at.
 *
 * A number is plain decimal: an optional sign, digits with an optional fraction, and (in data
 * other services write) an optional exponent, because Python's str(float) writes 1e-05 and
 * 1e+16. Nothing else: no hex (0x10 is not 16 of anything), no binary or octal, no surrounding
 * whitespace, no empty string, no inf/nan, and no value that only looks finite: 1e-400 underflows
 * to 0 and 1e400 overflows, so both are rejected rather than read as 0 or Infinity.
 */
export type NumberProblem = 'empty' | 'not_decimal' | 'not_finite' | 'underflow';

export type NumberReading = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly problem: NumberProblem };

export interface DecimalRules {
  /** Whether 1e-05 is allowed. Data written by programs: yes; settings written by people: no. */
  readonly exponent: boolean;
}

const WITH_EXPONENT = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const WITHOUT_EXPONENT = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const NONZERO_MANTISSA = /^[^eE]*[1-9]/;

export const dataNumbers: DecimalRules = { exponent: true };
export const settingNumbers: DecimalRules = { exponent: false };

/** Reads `text` as a plain decimal number, or says why it is not one. */
export function readDecimal(text: string | null | undefined, rules: DecimalRules = dataNumbers): NumberReading {
  if (text === null || text === undefined || text === '') return { ok: false, problem: 'empty' };
  if (!(rules.exponent ? WITH_EXPONENT : WITHOUT_EXPONENT).test(text)) return { ok: false, problem: 'not_decimal' };
  const value = Number(text);
  if (!Number.isFinite(value)) return { ok: false, problem: 'not_finite' };
  if (value === 0 && NONZERO_MANTISSA.test(text)) return { ok: false, problem: 'underflow' };
  return { ok: true, value };
}

/** The number `text` holds, or undefined when it holds none (see readDecimal for why). */
export function parseDecimal(text: string | null | undefined, rules: DecimalRules = dataNumbers): number | undefined {
  const reading = readDecimal(text, rules);
  return reading.ok ? reading.value : undefined;
}

/**
 * Why a value is not a number, for error messages: `must be a decimal number` followed by this
 * (empty for a value that is simply not written in decimal digits).
 */
export function numberProblemDetail(problem: NumberProblem): string {
  switch (problem) {
    case 'empty':
      return ' (it is empty)';
    case 'not_decimal':
      return '';
    case 'not_finite':
      return ' (it is too large to be finite)';
    case 'underflow':
      return ' (it is too small to represent: it would read as 0)';
  }
}
