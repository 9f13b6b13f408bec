import type { RedisReader } from '../../runtime/contract/index.js';
import { parseNumber } from '../../schemas/fields.js';
import { keys } from '../../schemas/keys.js';
import { sideSign } from './pnl.js';
import { readP33Position } from '../positions/book.js';
import { freshestPrice, positionQuote, readPriceQuotes } from '../positions/prices.js';

/** What the follow-up needs of a symbol's position and market at one moment. */
export interface MarketView {
  /** |notional| of the position, USD; undefined without a position. */
  readonly positionNotionalUsd: number | undefined;
  readonly side: 1 | -1 | undefined;
  /** Mark price: the freshest quote (handlers/positions/prices.ts), our view's included; undefined when none is usable. */
  readonly markPrice: number | undefined;
}

/**
 * Reads the symbol's mark price (quantum:state:market:{symbol}, else the freshest of P3.3's mark
 * in either layout, the price feed's ticker and our view's snapshot mark) and its
 * position: the Position Ledger's hash (position_amt × mark, signed), else our view of the
 * snapshot stream (position_notional_usd and side).
 */
export async function readMarket(redis: RedisReader, symbol: string, now = Date.now()): Promise<MarketView> {
  const [quotes, ledger, [notional, side, viewMark, viewAt]] = await Promise.all([
    readPriceQuotes(redis, symbol),
    readP33Position(redis, symbol, undefined, { now }),
    redis.hmget(keys.position(symbol), 'position_notional_usd', 'side', 'mark_price', 'updated_at'),
  ]);
  const viewQuote = positionQuote({ markPrice: parseNumber(viewMark), asOfMs: parseNumber(viewAt) });
  // The market state first, as before (a follow-up marks to the price the pipeline names as its
  // market); without one, the freshest of the others.
  const market = quotes.find((q) => q.source === 'market_state');
  const markPrice = market?.price ?? freshestPrice([...quotes.filter((q) => q.source !== 'market_state'), ...viewQuote], now)?.price;
  if (ledger !== undefined) {
    return { positionNotionalUsd: Math.abs(ledger.notionalUsd), side: ledger.notionalUsd > 0 ? 1 : -1, markPrice };
  }
  const given = parseNumber(notional);
  if (given === undefined || given === 0) return { positionNotionalUsd: undefined, side: undefined, markPrice };
  return { positionNotionalUsd: Math.abs(given), side: sideSign(side ?? undefined) ?? (given < 0 ? -1 : undefined), markPrice };
}
