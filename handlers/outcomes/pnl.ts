/**
 * The counterfactual arithmetic of outcome follow-ups, pure: what a decision that changed
 * exposure would have made or lost, marked to market. Mark price only: no fills, fees,
 * slippage or funding (docs/outcomes.md says what that leaves out).
 */

export { sideSign } from '../../domain/side.js';

/** The share of a position a harvest action closes: FULL_CLOSE 1, PARTIAL_25 0.25, … */
export function closedFraction(action: string): number | undefined {
  const upper = action.trim().toUpperCase();
  if (upper === 'FULL_CLOSE' || upper === 'FULL_CLOSE_PROPOSED') return 1;
  const partial = /^PARTIAL_(\d{1,3})$/.exec(upper);
  if (partial) {
    const percent = Number(partial[1]);
    return percent > 0 && percent <= 100 ? percent / 100 : undefined;
  }
  return undefined;
}

/**
 * The exposure a calibration left open that the proposal would have closed: for FULL_CLOSE →
 * PARTIAL_25 that is 75 % of the position. Signed like the position (negative for a short).
 * Undefined when the actions are not both closes, or the calibration closed more (never here).
 */
export function keptExposure(proposed: string, calibrated: string, positionNotionalUsd: number, side: 1 | -1): number | undefined {
  const wanted = closedFraction(proposed);
  const done = closedFraction(calibrated);
  if (wanted === undefined || done === undefined || done >= wanted) return undefined;
  return (wanted - done) * Math.abs(positionNotionalUsd) * side;
}

/**
 * PnL of holding `exposureUsd` (signed: long positive) from `entryPrice` to `price`: the
 * counterfactual of a decision, at one horizon. Undefined when either price is unusable.
 */
export function markToMarket(exposureUsd: number, entryPrice: number, price: number | undefined): number | undefined {
  if (price === undefined || !Number.isFinite(price) || price <= 0 || !Number.isFinite(entryPrice) || entryPrice <= 0) return undefined;
  return exposureUsd * (price / entryPrice - 1);
}

/** Cents, so that sums of reported figures add up. */
export function cents(usd: number): number {
  return Math.round(usd * 100) / 100;
}
