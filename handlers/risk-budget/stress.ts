/** The budget formula of seed 002, as pure functions. */

export interface StressWeights {
  readonly alphaHeat: number;
  readonly betaCluster: number;
  readonly gammaVol: number;
}

export interface StressInputs {
  readonly heat: number;
  readonly clusterStress: number;
  readonly volRegime: number;
}

export interface BudgetLimits {
  readonly baseRiskPct: number;
  readonly minBudget: number;
  readonly maxBudget: number;
}

export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** Non-finite input (NaN) counts as full stress: the smallest budget is the safe one. */
export function clamp01(value: number): number {
  return Number.isNaN(value) ? 1 : clamp(value, 0, 1);
}

/** stress = clamp01(α·heat + β·cluster_stress + γ·vol_regime). */
export function computeStress(inputs: StressInputs, weights: StressWeights): number {
  return clamp01(weights.alphaHeat * inputs.heat + weights.betaCluster * inputs.clusterStress + weights.gammaVol * inputs.volRegime);
}

/** budget = clamp(equity × BASE_RISK_PCT × (1 − stress), MIN_BUDGET_K, MAX_BUDGET_K), in cents. */
export function computeBudget(equityUsd: number, stress: number, limits: BudgetLimits): number {
  const raw = equityUsd * limits.baseRiskPct * (1 - clamp01(stress));
  return roundTo(clamp(raw, limits.minBudget, limits.maxBudget), 2);
}

export function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}
