import type { RedisReader } from '../../runtime/redis-reader.js';
import { keys } from '../../schemas/keys.js';
import { parseNumber } from '../../schemas/fields.js';

/** The heat formula, shared by the heat gate and the budget engine: one implementation. */

export type HeatBucket = 'COLD' | 'WARM' | 'HOT';

export interface PositionExposure {
  readonly symbol: string;
  readonly notionalUsd: number;
  readonly sigma: number | undefined;
}

export interface HeatInputs {
  /** undefined when the portfolio state or its equity_usd field is missing. */
  readonly equityUsd: number | undefined;
  readonly equityRaw: string | undefined;
  readonly positions: readonly PositionExposure[];
}

/** Why heat could not be computed; every such case is treated as COLD (fail-closed). */
export type HeatProblem = 'missing_portfolio_state' | 'invalid_equity';

export type HeatResult = { readonly heat: number; readonly problem?: undefined } | { readonly heat: 0; readonly problem: HeatProblem };

/** heat = Σ(|notional_i| × sigma_i) / equity, over positions with sigma > 0. */
export function computeHeat(inputs: HeatInputs): HeatResult {
  if (inputs.equityRaw === undefined) return { heat: 0, problem: 'missing_portfolio_state' };
  const equity = inputs.equityUsd;
  if (equity === undefined || !Number.isFinite(equity) || equity <= 0) return { heat: 0, problem: 'invalid_equity' };
  let weighted = 0;
  for (const position of inputs.positions) {
    if (position.sigma === undefined || !(position.sigma > 0) || !Number.isFinite(position.notionalUsd)) continue;
    weighted += Math.abs(position.notionalUsd) * position.sigma;
  }
  return { heat: weighted / equity };
}

/** COLD < heatMin ≤ WARM < heatMax ≤ HOT. */
export function bucketOf(heat: number, heatMin: number, heatMax: number): HeatBucket {
  if (heat < heatMin) return 'COLD';
  if (heat < heatMax) return 'WARM';
  return 'HOT';
}

/** One round trip for equity, the active symbols and each one's position (read-only). */
const READ_HEAT_INPUTS = `
local equity = redis.call('HGET', KEYS[1], 'equity_usd')
local symbols = redis.call('SMEMBERS', KEYS[2])
local rows = {}
for i, symbol in ipairs(symbols) do
  rows[i] = redis.call('HMGET', ARGV[1] .. symbol, 'position_notional_usd', 'sigma', 'volatility')
end
return {equity, symbols, rows}
`;

type Row = (string | null)[];

/**
 * Reads equity and the latest position of every active symbol (not the last N stream entries).
 * One round trip through a read-only script where Redis allows it; two plain ones otherwise
 * (Redis Cluster, where the position keys live in other slots, or a Redis before 7).
 */
export async function loadHeatInputs(redis: RedisReader): Promise<HeatInputs> {
  let equityRaw: string | null;
  let symbols: string[];
  let rows: Row[];
  try {
    const reply = (await redis.eval_ro(READ_HEAT_INPUTS, 2, keys.portfolioState, keys.activePositions, keys.positionSnapshot(''))) as [string | null, string[], Row[]];
    [equityRaw, symbols, rows] = reply;
  } catch {
    let equityRow: Row;
    [equityRow, symbols] = await Promise.all([redis.hmget(keys.portfolioState, 'equity_usd'), redis.smembers(keys.activePositions)]);
    equityRaw = equityRow[0] ?? null;
    rows = await Promise.all(symbols.map((symbol) => redis.hmget(keys.positionSnapshot(symbol), 'position_notional_usd', 'sigma', 'volatility')));
  }
  const positions: PositionExposure[] = [];
  rows.forEach(([notional, sigma, volatility], i) => {
    const notionalUsd = parseNumber(notional);
    if (notionalUsd === undefined) return;
    positions.push({ symbol: symbols[i]!, notionalUsd, sigma: parseNumber(sigma) ?? parseNumber(volatility) });
  });
  return { equityRaw: equityRaw ?? undefined, equityUsd: parseNumber(equityRaw), positions };
}
