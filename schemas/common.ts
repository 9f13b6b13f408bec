import * as z from 'zod';
import { dataNumbers, numberProblemDetail, readDecimal } from '../domain/number.js';

/** Exchange symbols such as BTCUSDT or 1000PEPEUSDT. */
export const symbolSchema = z
  .string()
  .trim()
  .regex(/^[A-Z0-9][A-Z0-9_.-]{1,31}$/, 'must be an upper-case exchange symbol such as BTCUSDT');

/** A stream field holding a number, by the one rule of domain/number.ts (no padding, no hex). */
export const numericField = z.string().transform((text, ctx) => {
  const reading = readDecimal(text, dataNumbers);
  if (reading.ok) return reading.value;
  ctx.addIssue({ code: 'custom', message: `must be a decimal number${numberProblemDetail(reading.problem)}` });
  return z.NEVER;
});

export const idField = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');

export const booleanField = z
  .enum(['true', 'false', 'True', 'False', 'TRUE', 'FALSE', '1', '0'], { message: 'must be true or false' })
  .transform((v) => v === '1' || v.toLowerCase() === 'true');
