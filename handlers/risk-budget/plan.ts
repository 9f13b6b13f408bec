import { computeHeat } from '../positions/heat.js';
import type { RiskBudgetConfig } from './config.js';
import type { BudgetInputs } from './inputs.js';
import { choosePortfolioState, type PortfolioChoice, type PortfolioSnapshot } from './portfolio.js';
import { computeBudget, computeStress, overBudgetUsd } from '../../domain/budget.js';
import { volRegimeOf } from './vol-regime.js';
import { parsePyFloat } from '../../schemas/python-number.js';

export type HeatReading =
  | { readonly value: number; readonly source: 'computed' | 'scraped' }
  /** The original: "Missing portfolio heat ..., using 0.0". */
  | { readonly value: 0; readonly source: 'fallback'; readonly problem: string };

export interface Violation {
  readonly position_notional: number;
  readonly budget_usd: number;
  readonly over_budget: number;
}

export interface SymbolBudget {
  readonly symbol: string;
  readonly budgetUsd: number;
  readonly stress: number;
  readonly clusterStress: number;
  readonly volRegime: number;
  /** |notional| of the symbol's open position in the book; undefined when it has none. */
  readonly positionNotional: number | undefined;
  readonly violation: Violation | undefined;
}

/** One tick's decision, as data: the handler turns it into keys, events and metrics. */
export type BudgetPlan =
  | { readonly kind: 'no_budgets'; readonly symbols: readonly string[]; readonly portfolio: Extract<PortfolioChoice, { kind: 'none' }> }
  | {
      readonly kind: 'budgets';
      readonly portfolio: Exclude<PortfolioChoice, { kind: 'none' }>;
      readonly heat: HeatReading;
      readonly budgets: readonly SymbolBudget[];
    };

/**
 * Heat from the heat gate's /metrics when HEAT_GATE_METRICS_URL is set (as the original), else by
 * the heat gate's formula from the same equity the budgets use and the position book.
 */
export function heatFor(inputs: BudgetInputs, state: PortfolioSnapshot): HeatReading {
  if (inputs.scrapedHeat !== undefined) {
    return inputs.scrapedHeat.ok
      ? { value: inputs.scrapedHeat.value, source: 'scraped' }
      : { value: 0, source: 'fallback', problem: `heat_scrape_${inputs.scrapedHeat.problem}` };
  }
  const result = computeHeat({ ...inputs.heatInputs, equityUsd: state.equityUsd, equityRaw: String(state.equityUsd) });
  return result.problem === undefined
    ? { value: result.heat, source: 'computed' }
    : { value: 0, source: 'fallback', problem: result.problem };
}

/**
 * The original's fetch_cluster_stress: `stress` of quantum:cluster:stress:default by float(),
 * unclamped (the stress factor clamps the sum); no hash, no field or junk is 0.0.
 */
export function clusterStressOf(hash: Readonly<Record<string, string>>): number {
  if (hash.stress === undefined) return 0.0;
  return parsePyFloat(hash.stress) ?? 0.0;
}

export function planBudgets(inputs: BudgetInputs, config: RiskBudgetConfig, nowMs: number): BudgetPlan {
  const portfolio = choosePortfolioState(inputs.portfolio, inputs.lastKnownGood, nowMs, {
    staleSec: config.STALE_SEC,
    maxLkgAgeSec: config.MAX_LKG_AGE_SEC,
  });
  if (portfolio.kind === 'none') return { kind: 'no_budgets', symbols: inputs.symbols, portfolio };

  const heat = heatFor(inputs, portfolio.state);
  const clusterStress = clusterStressOf(inputs.clusterStress);
  const notionalBySymbol = new Map(inputs.heatInputs.positions.map((p) => [p.symbol, Math.abs(p.notionalUsd)]));
  const budgets = inputs.symbols.map((symbol): SymbolBudget => {
    const volRegime = volRegimeOf(inputs.market.get(symbol) ?? {});
    const stress = computeStress(
      { heat: heat.value, clusterStress, volRegime },
      { alphaHeat: config.ALPHA_HEAT, betaCluster: config.BETA_CLUSTER, gammaVol: config.GAMMA_VOL },
    );
    const budgetUsd = computeBudget(portfolio.state.equityUsd, stress, {
      baseRiskPct: config.BASE_RISK_PCT,
      minBudget: config.MIN_BUDGET_K,
      maxBudget: config.MAX_BUDGET_K,
    });
    const positionNotional = notionalBySymbol.get(symbol);
    return { symbol, budgetUsd, stress, clusterStress, volRegime, positionNotional, violation: violationOf(positionNotional, budgetUsd) };
  });
  return { kind: 'budgets', portfolio, heat, budgets };
}

/** The original's check_budget_violation: over_budget = max(0.0, notional − budget), a violation when > 0. */
export function violationOf(positionNotional: number | undefined, budgetUsd: number): Violation | undefined {
  if (positionNotional === undefined) return undefined;
  const overBudget = overBudgetUsd(positionNotional, budgetUsd);
  return overBudget > 0 ? { position_notional: positionNotional, budget_usd: budgetUsd, over_budget: overBudget } : undefined;
}
