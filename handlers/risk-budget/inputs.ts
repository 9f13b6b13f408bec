import type { ReadCommand, RedisReader } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';
import { P33_KEY_WATCH, readWatched } from '../positions/book.js';
import { replyOf } from '../positions/read-commands.js';
import { loadHeatInputs, type HeatInputs } from '../positions/heat.js';
import type { RiskBudgetConfig } from './config.js';
import { scrapeHeat, type ScrapedHeat } from './heat-scrape.js';

/** The original's httpx timeout for the heat scrape. */
export const heatScrapeTimeoutMs = 5000;

/** Symbols whose market state a tick reads in one round trip. */
const SYMBOLS_A_ROUND_TRIP = 50;

/** The original reads one cluster, fetch_cluster_stress("default"). */
export const clusterId = 'default';

/** Everything one tick reads, loaded before the handler runs so the decision itself is pure. */
export interface BudgetInputs {
  readonly portfolio: Readonly<Record<string, string>>;
  readonly lastKnownGood: Readonly<Record<string, string>>;
  /**
   * Symbols to compute, sorted: every symbol with a Position Ledger hash (the original's
   * `KEYS quantum:position:snapshot:*`, here the position-index set) and every open position of
   * the position book (which adds the snapshot stream's).
   */
  readonly symbols: readonly string[];
  /** Latest position of every open symbol, by the heat gate's own loader. */
  readonly heatInputs: HeatInputs;
  /** quantum:state:market:{symbol}, whole, per symbol. */
  readonly market: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** quantum:cluster:stress:default, whole. */
  readonly clusterStress: Readonly<Record<string, string>>;
  /** Present only when HEAT_GATE_METRICS_URL is set. */
  readonly scrapedHeat: ScrapedHeat | undefined;
}

export async function loadBudgetInputs(redis: RedisReader, config: RiskBudgetConfig, now: number): Promise<BudgetInputs> {
  const [portfolio, lastKnownGood, heatInputs, p33Symbols, clusterStress, scrapedHeat] = await Promise.all([
    redis.hgetall(keys.portfolioState),
    redis.hgetall(keys.budgetPortfolioLkg),
    loadHeatInputs(redis, config, now),
    redis.smembers(keys.p33PositionIndex),
    redis.hgetall(keys.clusterStress(clusterId)),
    config.HEAT_GATE_METRICS_URL === undefined ? Promise.resolve(undefined) : scrapeHeat(config.HEAT_GATE_METRICS_URL, heatScrapeTimeoutMs),
  ]);
  const symbols = [...new Set([...p33Symbols, ...heatInputs.positions.map((p) => p.symbol)])].sort();
  // A few dozen symbols a round trip: a universe of thousands read at once holds the decisions
  // sharing this process and Redis (the position index's refresh reads its hashes the same way).
  // Through the key watch's kept replies while it is live, past a barrier of this tick's (the book's
  // read above takes one too; this one does not lean on it): only the hashes written since the last
  // tick are sent (upstream's universe of 800: 80 HGETALLs a second).
  await redis.keysToRead?.(P33_KEY_WATCH);
  const rows: Record<string, string>[] = [];
  for (let i = 0; i < symbols.length; i += SYMBOLS_A_ROUND_TRIP) {
    const chunk = symbols.slice(i, i + SYMBOLS_A_ROUND_TRIP).map((symbol): ReadCommand => ['HGETALL', keys.marketState(symbol)]);
    // A hash of another type fails the tick, as an HGETALL of it does.
    for (const reply of await readWatched(redis, chunk)) rows.push(replyOf<Record<string, string>>(reply));
  }
  const market = new Map(rows.map((row, i) => [symbols[i]!, row] as const));
  return { portfolio, lastKnownGood, symbols, heatInputs, market, clusterStress, scrapedHeat };
}
