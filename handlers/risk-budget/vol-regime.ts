/**
 * Volatility regime for the stress formula, as the original's fetch_vol_regime reads
 * quantum:state:market:{symbol}: a label that names EXTREME, HIGH or LOW (anywhere in it, any
 * case) decides; any other label (NORMAL_VOL, none) falls back to sigma (default 0.01).
 */
import { parsePyFloat } from '../../schemas/python-number.js';

export const volRegimeLevels = { LOW: 0.0, NORMAL: 0.33, HIGH: 0.67, EXTREME: 1.0 } as const;

/** No market hash, or a sigma that float() cannot read: NORMAL (the original's defaults). */
export const defaultVolRegime = volRegimeLevels.NORMAL;

/** sigma > 0.03 EXTREME, > 0.02 HIGH, < 0.005 LOW, otherwise NORMAL. */
export const sigmaThresholds = { low: 0.005, high: 0.02, extreme: 0.03 } as const;

/** The sigma the original assumed when the hash has none. */
export const defaultSigma = 0.01;

/** The label's verdict: `"EXTREME" in label.upper()` first, then HIGH, then LOW. */
export function volRegimeFromLabel(label: string | undefined): number | undefined {
  const name = (label ?? '').toUpperCase();
  if (name.includes('EXTREME')) return volRegimeLevels.EXTREME;
  if (name.includes('HIGH')) return volRegimeLevels.HIGH;
  if (name.includes('LOW')) return volRegimeLevels.LOW;
  return undefined;
}

/** Python's comparisons: a NaN sigma fails every test and lands on NORMAL. */
export function volRegimeFromSigma(sigma: number): number {
  if (sigma > sigmaThresholds.extreme) return volRegimeLevels.EXTREME;
  if (sigma > sigmaThresholds.high) return volRegimeLevels.HIGH;
  if (sigma < sigmaThresholds.low) return volRegimeLevels.LOW;
  return volRegimeLevels.NORMAL;
}

/** The whole quantum:state:market:{symbol} hash → the regime value the budget hash records. */
export function volRegimeOf(market: Readonly<Record<string, string>>): number {
  if (Object.keys(market).length === 0) return defaultVolRegime;
  const fromLabel = volRegimeFromLabel(market.vol_regime);
  if (fromLabel !== undefined) return fromLabel;
  const sigma = market.sigma === undefined ? defaultSigma : parsePyFloat(market.sigma);
  return sigma === undefined ? defaultVolRegime : volRegimeFromSigma(sigma);
}
