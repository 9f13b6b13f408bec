/**
 * A position's or an order's side as a sign: +1 long or buy, −1 short or sell (LONG/BUY,
 * SHORT/SELL as the producers write them, any case), undefined when it says neither. One rule for
 * the snapshots' notional and the outcome follow-ups' PnL.
 */
export function sideSign(side: unknown): 1 | -1 | undefined {
  const word = typeof side === 'string' ? side.trim().toUpperCase() : '';
  return word === 'LONG' || word === 'BUY' ? 1 : word === 'SHORT' || word === 'SELL' ? -1 : undefined;
}
