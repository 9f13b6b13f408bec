import type { RedisReader } from '../../runtime/redis-reader.js';
import { keys } from '../../schemas/keys.js';
import { loadHeatInputs, type HeatInputs } from '../heat-gate/heat.js';
import type { RiskBudgetConfig } from './config.js';
import { scrapeHeat, type ScrapedHeat } from './heat-scrape.js';
import { parseNumber } from '../../schemas/fields.js';

/** A scrape slower than this falls back to heat 0.0 rather than hold the tick. */
export const heatScrapeTimeoutMs = 2000;

export interface MarketInputs {
  readonly volRegimeLabel: string | undefined;
  readonly sigma: number | undefined;
  /** Which cluster the symbol belongs to: the `cluster_id` field of its market state hash. */
  readonly clusterId: string | undefined;
}

/** Everything one tick reads, loaded before the handler runs so the decision itself is pure. */
export interface BudgetInputs {
  readonly portfolio: Readonly<Record<string, string>>;
  readonly lastKnownGood: Readonly<Record<string, string>>;
  /** Symbols with an open position in the position book, sorted. */
  readonly symbols: readonly string[];
  /** Latest position of every active symbol, by the heat gate's own loader. */
  readonly heatInputs: HeatInputs;
  readonly market: Readonly<Record<string, MarketInputs>>;
  /** `stress` of quantum:cluster:stress:{id}, per cluster id the symbols name. */
  readonly clusterStress: Readonly<Record<string, string | undefined>>;
  /** Present only when HEAT_GATE_METRICS_URL is set. */
  readonly scrapedHeat: ScrapedHeat | undefined;
}

export async function loadBudgetInputs(redis: RedisReader, config: RiskBudgetConfig): Promise<BudgetInputs> {
  const [portfolio, lastKnownGood, heatInputs, scrapedHeat] = await Promise.all([
    redis.hgetall(keys.portfolioState),
    redis.hgetall(keys.budgetPortfolioLkg),
    // The same position book as the heat gate and the governor: active symbols are its symbols.
    loadHeatInputs(redis, config),
    config.HEAT_GATE_METRICS_URL === undefined ? Promise.resolve(undefined) : scrapeHeat(config.HEAT_GATE_METRICS_URL, heatScrapeTimeoutMs),
  ]);
  const sorted = heatInputs.positions.map((p) => p.symbol).sort();
  const rows = await Promise.all(sorted.map((symbol) => redis.hmget(keys.marketState(symbol), 'vol_regime', 'sigma', 'cluster_id')));
  const market: Record<string, MarketInputs> = {};
  rows.forEach(([label, sigma, clusterId], i) => {
    market[sorted[i]!] = {
      volRegimeLabel: label ?? undefined,
      sigma: parseNumber(sigma),
      clusterId: clusterId?.trim() || undefined,
    };
  });
  const clusterIds = [...new Set(Object.values(market).flatMap((m) => (m.clusterId === undefined ? [] : [m.clusterId])))];
  const stresses = await Promise.all(clusterIds.map((id) => redis.hget(keys.clusterStress(id), 'stress')));
  const clusterStress: Record<string, string | undefined> = {};
  clusterIds.forEach((id, i) => (clusterStress[id] = stresses[i] ?? undefined));
  return { portfolio, lastKnownGood, symbols: sorted, heatInputs, market, clusterStress, scrapedHeat };
}
