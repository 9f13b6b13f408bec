import { computeHeat } from '../heat-gate/heat.js';
import type { RiskBudgetConfig } from './config.js';
import type { BudgetInputs } from './inputs.js';
import { choosePortfolioState, type PortfolioChoice, type PortfolioSnapshot } from './portfolio.js';
import { clamp, computeBudget, computeStress, roundTo } from './stress.js';
import { volRegimeOf, type VolRegime } from './vol-regime.js';
import { parseNumber } from '../../schemas/fields.js';

export type HeatReading =
  | { readonly value: number; readonly source: 'computed' | 'scraped' }
  /** Seed 003: heat unavailable counts as calm (0.0). */
  | { readonly value: 0; readonly source: 'fallback'; readonly problem: string };

export interface Violation {
  readonly symbol: string;
  readonly position_notional: number;
  readonly budget_usd: number;
  readonly over_budget: number;
}

export interface SymbolBudget {
  readonly symbol: string;
  readonly budgetUsd: number;
  readonly stress: number;
  readonly clusterStress: number;
  readonly volRegime: VolRegime;
  /** |position_notional_usd| of the symbol's latest snapshot; undefined when it has none. */
  readonly positionNotional: number | undefined;
  readonly violation: Violation | undefined;
}

/** One tick's decision, as data: the handler turns it into keys, events and metrics. */
export type BudgetPlan =
  | { readonly kind: 'no_budgets'; readonly portfolio: Extract<PortfolioChoice, { kind: 'too_old' }> }
  | {
      readonly kind: 'budgets';
      readonly portfolio: Exclude<PortfolioChoice, { kind: 'too_old' }>;
      readonly heat: HeatReading;
      readonly budgets: readonly SymbolBudget[];
    };

/**
 * Heat from the same equity the budgets use (the last-known-good one when that is in use) and
 * the positions, by the heat gate's formula; or the scraped reading in the split deployment.
 */
export function heatFor(inputs: BudgetInputs, state: PortfolioSnapshot): HeatReading {
  if (inputs.scrapedHeat !== undefined) {
    return inputs.scrapedHeat.ok
      ? { value: inputs.scrapedHeat.value, source: 'scraped' }
      : { value: 0, source: 'fallback', problem: `heat_scrape_${inputs.scrapedHeat.problem}` };
  }
  const result = computeHeat({ ...inputs.heatInputs, equityUsd: state.equityUsd, equityRaw: String(state.equityUsd) });
  return result.problem === undefined ? { value: result.heat, source: 'computed' } : { value: 0, source: 'fallback', problem: result.problem };
}

/** Cluster stress is a [0, 1] factor (seed 003); out-of-range values are clamped, junk is 0. */
export function clusterStressOf(raw: string | undefined): number {
  const value = parseNumber(raw);
  return value === undefined ? 0 : clamp(value, 0, 1);
}

export function planBudgets(inputs: BudgetInputs, config: RiskBudgetConfig, nowMs: number): BudgetPlan {
  const portfolio = choosePortfolioState(inputs.portfolio, inputs.lastKnownGood, nowMs, {
    staleSec: config.STALE_SEC,
    maxLkgAgeSec: config.MAX_LKG_AGE_SEC,
  });
  if (portfolio.kind === 'too_old') return { kind: 'no_budgets', portfolio };

  const heat = heatFor(inputs, portfolio.state);
  const notionalBySymbol = new Map(inputs.heatInputs.positions.map((p) => [p.symbol, Math.abs(p.notionalUsd)]));
  const budgets = inputs.symbols.map((symbol): SymbolBudget => {
    const market = inputs.market[symbol];
    const clusterStress = market?.clusterId === undefined ? 0 : clusterStressOf(inputs.clusterStress[market.clusterId]);
    const volRegime = volRegimeOf({ label: market?.volRegimeLabel, sigma: market?.sigma });
    const stress = computeStress(
      { heat: heat.value, clusterStress, volRegime: volRegime.value },
      { alphaHeat: config.ALPHA_HEAT, betaCluster: config.BETA_CLUSTER, gammaVol: config.GAMMA_VOL },
    );
    const budgetUsd = computeBudget(portfolio.state.equityUsd, stress, {
      baseRiskPct: config.BASE_RISK_PCT,
      minBudget: config.MIN_BUDGET_K,
      maxBudget: config.MAX_BUDGET_K,
    });
    const positionNotional = notionalBySymbol.get(symbol);
    return { symbol, budgetUsd, stress, clusterStress, volRegime, positionNotional, violation: violationOf(symbol, positionNotional, budgetUsd) };
  });
  return { kind: 'budgets', portfolio, heat, budgets };
}

/** A position whose |notional| exceeds its budget; equal is within budget. */
export function violationOf(symbol: string, positionNotional: number | undefined, budgetUsd: number): Violation | undefined {
  if (positionNotional === undefined) return undefined;
  const notional = Math.abs(positionNotional);
  if (!(notional > budgetUsd)) return undefined;
  return { symbol, position_notional: notional, budget_usd: budgetUsd, over_budget: roundTo(notional - budgetUsd, 2) };
}
