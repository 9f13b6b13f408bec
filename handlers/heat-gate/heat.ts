import type { RedisReader } from '../../runtime/redis-reader.js';
import { loadPositionBook, type PositionBook, type PositionBookConfig } from '../positions/book.js';
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
  /** How the snapshots not yet in our view were found (see PositionBook); absent in hand-built inputs. */
  readonly streamRead?: PositionBook['streamRead'];
  readonly truncated?: boolean;
  /** The symbols of `positions`, for a quick "is the proposal's symbol in the book?". */
  readonly symbols?: ReadonlySet<string>;
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

/**
 * Equity and the position book (our view, the snapshots it has not applied yet, P3.3's hashes) in
 * one read-only script: the decision never lags the snapshot stream.
 */
export async function loadHeatInputs(redis: RedisReader, config: PositionBookConfig): Promise<HeatInputs> {
  const { book, equityRaw } = await loadPositionBook(redis, config, true);
  const positions = book.positions.map(({ symbol, notionalUsd, sigma }) => ({ symbol, notionalUsd, sigma }));
  return { equityRaw, equityUsd: parseNumber(equityRaw), positions, streamRead: book.streamRead, truncated: book.truncated, symbols: new Set(positions.map((p) => p.symbol)) };
}
