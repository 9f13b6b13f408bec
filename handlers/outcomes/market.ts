import type { RedisReader } from '../../runtime/contract/index.js';
import { parseNumber } from '../../schemas/fields.js';
import { keys } from '../../schemas/keys.js';
import { sideSign } from './pnl.js';
import { readP33Position, type PositionBookConfig } from '../positions/book.js';
import {
  freshestPrice,
  futureQuotes,
  noteFutureQuotes,
  positionQuote,
  quoteBounds,
  readPriceQuotes,
  type PriceQuote,
  type RefusedQuoteSink,
} from '../positions/prices.js';

/** What the follow-up needs of a symbol's position and market at one moment. */
export interface MarketView {
  /** |notional| of the position, USD; undefined without a position. */
  readonly positionNotionalUsd: number | undefined;
  readonly side: 1 | -1 | undefined;
  /** The mark by the price rule (see readMark); undefined when no quote is fresh enough. */
  readonly mark: PriceQuote | undefined;
}

export type MarketConfig = Pick<PositionBookConfig, 'POSITION_P33_PREFIXES' | 'PRICE_MAX_AGE_SEC' | 'PRICE_MAX_SKEW_SEC'>;

/** Our view's snapshot mark as a quote, only with its time: a mark of no known time is never a price. */
function viewQuote(mark: string | null | undefined, at: string | null | undefined): PriceQuote[] {
  const asOfMs = parseNumber(at);
  return asOfMs === undefined || asOfMs <= 0 ? [] : positionQuote({ markPrice: parseNumber(mark), asOfMs });
}

/**
 * The symbol's mark by the gates' own rule (handlers/positions/prices.ts): the freshest quote of
 * the market state, P3.3 (either layout), the price feed's ticker and our view's snapshot mark
 * that is no older than PRICE_MAX_AGE_SEC; else a market state of no time (the seeds' format);
 * else none. A mark left in our view (a snapshot's, which never expires there) counts only by its
 * time, so a market price that is gone is missing, not priced at the last snapshot's mark.
 */
export async function readMark(
  redis: RedisReader,
  symbol: string,
  now: number,
  config?: MarketConfig,
  refused?: RefusedQuoteSink,
): Promise<PriceQuote | undefined> {
  const [quotes, [viewMark, viewAt]] = await Promise.all([
    readPriceQuotes(redis, symbol, config),
    redis.hmget(keys.position(symbol), 'mark_price', 'updated_at'),
  ]);
  const all = [...quotes, ...viewQuote(viewMark, viewAt)];
  if (refused !== undefined) noteFutureQuotes(symbol, futureQuotes(all, now, quoteBounds(config)), now, refused);
  return freshestPrice(all, now, quoteBounds(config));
}

/**
 * Reads the symbol's mark (readMark) and its position: the Position Ledger's hash (position_amt ×
 * mark, signed), else our view of the snapshot stream (position_notional_usd and side).
 */
export async function readMarket(
  redis: RedisReader,
  symbol: string,
  now: number,
  config?: MarketConfig,
  refused?: RefusedQuoteSink,
): Promise<MarketView> {
  const [mark, ledger, [notional, side]] = await Promise.all([
    readMark(redis, symbol, now, config, refused),
    readP33Position(redis, symbol, undefined, { now, ...(config === undefined ? {} : { config }) }),
    redis.hmget(keys.position(symbol), 'position_notional_usd', 'side'),
  ]);
  if (ledger !== undefined) {
    return { positionNotionalUsd: Math.abs(ledger.notionalUsd), side: ledger.notionalUsd > 0 ? 1 : -1, mark };
  }
  const given = parseNumber(notional);
  if (given === undefined || given === 0) return { positionNotionalUsd: undefined, side: undefined, mark };
  return { positionNotionalUsd: Math.abs(given), side: sideSign(side ?? undefined) ?? (given < 0 ? -1 : undefined), mark };
}
