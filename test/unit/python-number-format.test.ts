import { describe, expect, it } from 'vitest';
import { pyFloatStr, pythonRound } from '../../schemas/python-number.js';

// Expected texts are what CPython 3 prints for repr(x) and round(x, n).
describe('pyFloatStr: str(float) as CPython writes it', () => {
  it.each([
    [0, '0.0'],
    [0.027, '0.027'],
    [270, '270.0'],
    [1e-5, '1e-05'],
    [0.0001, '0.0001'],
    [1e15, '1000000000000000.0'],
    [1e16, '1e+16'],
    [1.5e-7, '1.5e-07'],
    [1.2345678901234568e17, '1.2345678901234568e+17'],
    [0.1 + 0.2, '0.30000000000000004'],
    [-3.25, '-3.25'],
    [5e295, '5e+295'],
    [Infinity, 'inf'],
    [Number.NaN, 'nan'],
  ])('%s → %s', (value, text) => {
    expect(pyFloatStr(value)).toBe(text);
  });
});

describe('pythonRound: round(x, n), exact ties to even', () => {
  it.each([
    [0.03125, 4, 0.0312],
    [0.09375, 4, 0.0938],
    [0.12345678, 4, 0.1235],
    [0.00005, 4, 0.0001],
    [2.5, 0, 2],
    [3.5, 0, 4],
    [0.29000000000000004, 4, 0.29],
  ])('round(%s, %s) = %s', (value, places, rounded) => {
    expect(pythonRound(value, places)).toBe(rounded);
  });
});
