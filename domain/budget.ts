/**
 * The budget rule of seed 002 with the original's clamps (compute_stress_factor, compute_budget,
 * check_budget_violation): one implementation for the budget engine, its HTTP API and anything
 * else that judges a position against its budget.
 */
import { pyMax, pyMin } from './python-order.js';

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

/**
 * stress = max(0, min(1, α·heat + β·cluster_stress + γ·vol_regime)), with Python's min/max: a
 * NaN sum becomes 1 (min(1.0, nan) is 1.0), the smallest budget.
 */
export function computeStress(inputs: StressInputs, weights: StressWeights): number {
  const stress = weights.alphaHeat * inputs.heat + weights.betaCluster * inputs.clusterStress + weights.gammaVol * inputs.volRegime;
  return pyMax(0.0, pyMin(1.0, stress));
}

/**
 * budget = max(MIN, min(MAX, equity × BASE_RISK_PCT × (1 − stress))), unrounded. Equity ≤ 0 gives
 * MIN_BUDGET_K; a NaN or infinite equity gives MAX_BUDGET_K, as Python's min/max do.
 */
export function computeBudget(equityUsd: number, stress: number, limits: BudgetLimits): number {
  const baseBudget = equityUsd * limits.baseRiskPct;
  const adjusted = baseBudget * (1.0 - stress);
  return pyMax(limits.minBudget, pyMin(limits.maxBudget, adjusted));
}

/** How far a position is over its budget: max(0.0, notional − budget), signed notional as the original compares it. A violation when > 0. */
export function overBudgetUsd(positionNotional: number, budgetUsd: number): number {
  return pyMax(0.0, positionNotional - budgetUsd);
}
