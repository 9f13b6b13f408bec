import type { RedisReader } from '../../runtime/redis-reader.js';
import { keys } from '../../schemas/keys.js';
import { parseNumber } from './numbers.js';

export interface Position {
  readonly symbol: string;
  /** Absolute notional in USD. */
  readonly notionalUsd: number;
  readonly qty: number | undefined;
  readonly markPrice: number | undefined;
}

/**
 * Where the governor learns open positions. The position-snapshot hashes today; an exchange
 * account source (the original read Binance /fapi/v2/account) can implement the same interface.
 */
export interface PositionSource {
  readonly name: string;
  load(redis: RedisReader, now: number): Promise<readonly Position[]>;
}

/** Positions from quantum:position:snapshot:{symbol} for every symbol in the active index. */
export const snapshotPositionSource: PositionSource = {
  name: 'position-snapshot',
  async load(redis) {
    const symbols = await redis.smembers(keys.activePositions);
    const rows = await Promise.all(symbols.map((symbol) => redis.hmget(keys.positionSnapshot(symbol), 'position_notional_usd', 'qty', 'mark_price')));
    const positions: Position[] = [];
    rows.forEach(([notionalRaw, qtyRaw, markRaw], i) => {
      const qty = parseNumber(qtyRaw);
      const markPrice = parseNumber(markRaw);
      const notional = parseNumber(notionalRaw) ?? (qty !== undefined && markPrice !== undefined ? qty * markPrice : undefined);
      // An index entry without a hash is a symbol the snapshot handler is removing: not a position.
      if (notional === undefined || notional === 0) return;
      positions.push({ symbol: symbols[i]!, notionalUsd: Math.abs(notional), qty, markPrice });
    });
    return positions;
  },
};
