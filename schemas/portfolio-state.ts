import * as z from 'zod';
import { numericField } from './common.js';

/** The quantum:state:portfolio hash written by the portfolio state producer. */
export const portfolioStateSchema = z.looseObject({
  equity_usd: numericField,
  drawdown: numericField.optional(),
  /** Epoch seconds of the last update. */
  timestamp: numericField.optional(),
});
