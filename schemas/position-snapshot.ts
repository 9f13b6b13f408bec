import * as z from 'zod';
import { numericField, symbolSchema } from './common.js';

/** An entry of quantum:stream:position.snapshot. Volatility may arrive as sigma or volatility. */
export const positionSnapshotSchema = z.looseObject({
  symbol: symbolSchema,
  position_notional_usd: numericField,
  sigma: numericField.refine((v) => v >= 0, 'must not be negative').optional(),
  volatility: numericField.refine((v) => v >= 0, 'must not be negative').optional(),
  qty: numericField.optional(),
  mark_price: numericField.refine((v) => v >= 0, 'must not be negative').optional(),
});

export type PositionSnapshot = z.infer<typeof positionSnapshotSchema>;
