import { z } from 'zod';

/** Exchange symbols such as BTCUSDT or 1000PEPEUSDT. */
export const symbolSchema = z
  .string()
  .trim()
  .regex(/^[A-Z0-9][A-Z0-9_.-]{1,31}$/, 'must be an upper-case exchange symbol such as BTCUSDT');

/** A stream field holding a finite decimal number. */
export const numericField = z
  .string()
  .trim()
  .regex(/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, 'must be a decimal number')
  .transform(Number)
  .refine(Number.isFinite, 'must be finite');

export const idField = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');

export const booleanField = z
  .enum(['true', 'false', 'True', 'False', 'TRUE', 'FALSE', '1', '0'], { message: 'must be true or false' })
  .transform((v) => v === '1' || v.toLowerCase() === 'true');
