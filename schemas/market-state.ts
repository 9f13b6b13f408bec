import * as z from 'zod';
import { numericField, symbolSchema } from './common.js';

/**
 * The quantum:state:market:{symbol} hash the market-state producer writes: the governor prices an
 * open at its mark_price, the budget engine reads its volatility. `inject market` writes it (the
 * symbol names the key and is not written into the hash).
 */
export const marketStateSchema = z.looseObject({
  symbol: symbolSchema,
  mark_price: numericField.refine((price) => price > 0, 'must be a positive price'),
  sigma: numericField.optional(),
  vol_regime: z.string().min(1).optional(),
});
