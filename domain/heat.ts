/**
 * The heat formula of seed 000, one implementation for the heat gate and the budget engine:
 * heat = Σ(|notional_i| × sigma_i) / max(equity_usd, 1) over positions with sigma > 0
 * (the original's `_get_portfolio_heat`: `total_risk / max(equity_usd, 1.0)`), and its buckets.
 */
export interface PositionExposure {
  readonly symbol: string;
  readonly notionalUsd: number;
  readonly sigma: number | undefined;
}

/**
 * Heat above this (or not finite: notional 1e300, or overflow) is reported as this and flagged.
 * Any heat past HEAT_MAX is HOT, so the cap never changes a decision; it keeps the number a number.
 */
export const HEAT_CAP = 1_000_000;

/**
 * A heat as an operator reads it, in the status and the reports: 4 significant digits (0.2942,
 * 0.0275, 1.25), never a float's 17 (0.2941666666666667). JSON and CSV keep the exact figure.
 */
export function heatText(heat: number): string {
  return Number.isFinite(heat) ? String(Number(heat.toPrecision(4))) : String(heat);
}

export interface PortfolioHeat {
  readonly heat: number;
  /** True when the heat was not finite or above HEAT_CAP, and HEAT_CAP is given instead. */
  readonly capped: boolean;
  readonly positionsCounted: number;
  /** Open positions without a positive sigma: they add nothing to heat, and are named. */
  readonly withoutSigma: readonly PositionExposure[];
  /**
   * Each counted position's share of the heat, |notional| × sigma / max(equity, 1), in the book's
   * order: what the calibration report breaks the heat down by (they sum to `heat` when not capped).
   */
  readonly contributions: readonly HeatContribution[];
}

export interface HeatContribution {
  readonly symbol: string;
  readonly heat: number;
}

/** Heat of `positions` against a positive, finite `equityUsd` (callers check equity first). */
export function portfolioHeat(positions: readonly PositionExposure[], equityUsd: number): PortfolioHeat {
  let weighted = 0;
  let counted = 0;
  const withoutSigma: PositionExposure[] = [];
  const divisor = Math.max(equityUsd, 1);
  const contributions: HeatContribution[] = [];
  for (const position of positions) {
    if (position.sigma === undefined || !(position.sigma > 0)) {
      if (position.notionalUsd !== 0) withoutSigma.push(position);
      continue;
    }
    const risk = Math.abs(position.notionalUsd) * position.sigma;
    weighted += risk;
    counted += 1;
    contributions.push({ symbol: position.symbol, heat: risk / divisor });
  }
  const heat = weighted / divisor;
  const capped = !(heat <= HEAT_CAP);
  return { heat: capped ? HEAT_CAP : heat, capped, positionsCounted: counted, withoutSigma, contributions };
}

export type HeatBucketName = 'COLD' | 'WARM' | 'HOT';

/** COLD < heatMin ≤ WARM < heatMax ≤ HOT. */
export function bucketOf(heat: number, heatMin: number, heatMax: number): HeatBucketName {
  if (heat < heatMin) return 'COLD';
  if (heat < heatMax) return 'WARM';
  return 'HOT';
}
