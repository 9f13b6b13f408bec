import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { dataNumbers, parseDecimal, readDecimal, settingNumbers } from '../../domain/number.js';
import { ConfigError, envInt, envNumber, parseEnv } from '../../schemas/env.js';
import { numericField } from '../../schemas/common.js';
import { parseNumber } from '../../schemas/fields.js';

describe('the one number rule (domain/number.ts)', () => {
  it.each([
    ['10000', 10000],
    ['-0.5', -0.5],
    ['+3', 3],
    ['.25', 0.25],
    ['7.', 7],
    ['1738015443.2', 1738015443.2],
    // Python's str(float) writes these; data from the original services carries them.
    ['1e-05', 0.00001],
    ['1e+16', 1e16],
    ['0', 0],
    ['0.0', 0],
    ['0e10', 0],
  ])('reads %j as %d', (text, value) => {
    expect(parseDecimal(text)).toBe(value);
  });

  it.each([
    ['', 'empty'],
    ['0x10', 'not_decimal'],
    ['0b11', 'not_decimal'],
    ['0o7', 'not_decimal'],
    [' 10000 ', 'not_decimal'],
    ['10000\n', 'not_decimal'],
    ['1_000', 'not_decimal'],
    ['1,5', 'not_decimal'],
    ['Infinity', 'not_decimal'],
    ['inf', 'not_decimal'],
    ['nan', 'not_decimal'],
    ['1e400', 'not_finite'],
    ['-1e309', 'not_finite'],
    ['1e-400', 'underflow'],
  ])('rejects %j (%s)', (text, problem) => {
    expect(readDecimal(text)).toEqual({ ok: false, problem });
    expect(parseDecimal(text)).toBeUndefined();
  });

  it('reads zero written with a large negative exponent as zero, not as an underflow', () => {
    expect(readDecimal('0.000e-999')).toEqual({ ok: true, value: 0 });
  });

  it('rejects an exponent in a setting, where a person wrote the value', () => {
    expect(readDecimal('1e3', settingNumbers)).toEqual({ ok: false, problem: 'not_decimal' });
    expect(readDecimal('1000', settingNumbers)).toEqual({ ok: true, value: 1000 });
    expect(readDecimal('1e3', dataNumbers)).toEqual({ ok: true, value: 1000 });
  });

  it('is the rule stream fields and hashes are read by', () => {
    expect(parseNumber('0x10')).toBeUndefined();
    expect(parseNumber(' 10000 ')).toBeUndefined();
    expect(parseNumber('1e-300')).toBe(1e-300);
    expect(numericField.safeParse('0x10').success).toBe(false);
    expect(numericField.safeParse('1e-400').success).toBe(false);
    expect(numericField.parse('42.5')).toBe(42.5);
  });
});

describe('numbers in settings', () => {
  const schema = z.object({ LIMIT: envNumber(200), COUNT: envInt(3, 1) });

  it.each(['0x10', '0b11', '1e3', 'ten', '1_000', 'Infinity'])('stops start-up on LIMIT=%s, naming the variable', (value) => {
    expect(() => parseEnv(schema, { LIMIT: value })).toThrow(ConfigError);
    expect(() => parseEnv(schema, { LIMIT: value })).toThrow(/LIMIT: must be a number written in plain decimal digits/);
  });

  it('reads plain decimals and falls back to the default when unset', () => {
    expect(parseEnv(schema, { LIMIT: '250.5', COUNT: '7' })).toEqual({ LIMIT: 250.5, COUNT: 7 });
    expect(parseEnv(schema, {})).toEqual({ LIMIT: 200, COUNT: 3 });
  });

  it('keeps whole-number and minimum rules for integers', () => {
    expect(() => parseEnv(schema, { COUNT: '2.5' })).toThrow(/COUNT: must be a whole number/);
    expect(() => parseEnv(schema, { COUNT: '0' })).toThrow(/COUNT: must be at least 1/);
    expect(() => parseEnv(schema, { COUNT: '0x3' })).toThrow(/COUNT: must be a whole number written in plain decimal digits/);
  });
});
