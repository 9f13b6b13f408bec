import type { RedisReader } from '../../runtime/index.js';
import { parseNumber } from '../../schemas/fields.js';
import { keys } from '../../schemas/keys.js';
import { sideSign } from './pnl.js';
import { readP33Position } from '../positions/book.js';

/** What the follow-up needs of a symbol's position and market at one moment. */
export interface MarketView {
  /** |notional| of the position, USD; undefined without a position. */
  readonly positionNotionalUsd: number | undefined;
  readonly side: 1 | -1 | undefined;
  /** Mark price: the market state's, else the position's; undefined when neither is usable. */
  readonly markPrice: number | undefined;
}

const positive = (value: number | undefined) => (value !== undefined && Number.isFinite(value) && value > 0 ? value : undefined);

/**
 * Reads the symbol's mark price (quantum:state:market:{symbol}, else the position's mark_price)
 * and its position: the Position Ledger's hash (position_amt × mark, signed), else our view of the
 * snapshot stream (position_notional_usd and side).
 */
export async function readMarket(redis: RedisReader, symbol: string): Promise<MarketView> {
  const [[marketMark], ledger, [notional, side, viewMark]] = await Promise.all([
    redis.hmget(keys.marketState(symbol), 'mark_price'),
    readP33Position(redis, symbol),
    redis.hmget(keys.position(symbol), 'position_notional_usd', 'side', 'mark_price'),
  ]);
  const markPrice = positive(parseNumber(marketMark)) ?? positive(ledger?.markPrice) ?? positive(parseNumber(viewMark));
  if (ledger !== undefined) {
    return { positionNotionalUsd: Math.abs(ledger.notionalUsd), side: ledger.notionalUsd > 0 ? 1 : -1, markPrice };
  }
  const given = parseNumber(notional);
  if (given === undefined || given === 0) return { positionNotionalUsd: undefined, side: undefined, markPrice };
  return { positionNotionalUsd: Math.abs(given), side: sideSign(side ?? undefined) ?? (given < 0 ? -1 : undefined), markPrice };
}
