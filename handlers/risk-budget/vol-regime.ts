/**
 * Volatility regime, normalised to [0, 1] for the stress formula. The market state engine
 * writes `vol_regime` as LOW_VOL | NORMAL_VOL | HIGH_VOL | EXTREME_VOL (seed 003); the bare
 * names are accepted too.
 */
export const volRegimeLevels = { LOW: 0, NORMAL: 0.33, HIGH: 0.67, EXTREME: 1 } as const;

/** Used when neither a known label nor a usable sigma is there (seed 003: NORMAL_VOL). */
export const defaultVolRegime = volRegimeLevels.NORMAL;

/**
 * sigma → regime, the thresholds of the Python service (fetch_vol_regime): sigma is the
 * symbol's return volatility as a fraction (0.02 = 2 %). sigma < 0.005 LOW, ≤ 0.02 NORMAL,
 * ≤ 0.03 HIGH, above EXTREME.
 */
export const sigmaThresholds = { low: 0.005, high: 0.02, extreme: 0.03 } as const;

export type VolRegimeSource = 'label' | 'sigma' | 'default';

export interface VolRegime {
  readonly value: number;
  readonly source: VolRegimeSource;
}

export function volRegimeFromLabel(label: string | undefined): number | undefined {
  if (label === undefined) return undefined;
  const name = label.trim().toUpperCase().replace(/_VOL$/, '');
  return name in volRegimeLevels ? volRegimeLevels[name as keyof typeof volRegimeLevels] : undefined;
}

export function volRegimeFromSigma(sigma: number | undefined): number | undefined {
  if (sigma === undefined || !Number.isFinite(sigma) || sigma < 0) return undefined;
  if (sigma > sigmaThresholds.extreme) return volRegimeLevels.EXTREME;
  if (sigma > sigmaThresholds.high) return volRegimeLevels.HIGH;
  if (sigma < sigmaThresholds.low) return volRegimeLevels.LOW;
  return volRegimeLevels.NORMAL;
}

/** The label wins; an unknown or missing label falls back to sigma, then to NORMAL. */
export function volRegimeOf(market: { readonly label: string | undefined; readonly sigma: number | undefined }): VolRegime {
  const fromLabel = volRegimeFromLabel(market.label);
  if (fromLabel !== undefined) return { value: fromLabel, source: 'label' };
  const fromSigma = volRegimeFromSigma(market.sigma);
  if (fromSigma !== undefined) return { value: fromSigma, source: 'sigma' };
  return { value: defaultVolRegime, source: 'default' };
}
