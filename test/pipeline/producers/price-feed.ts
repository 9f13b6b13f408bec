/**
 * The price feed (microservices/price_feed/price_feed.py), newest era only (added in 173de2897,
 * 2026-02-08; 73fab1f55 lines 86-108): for each mark price from Binance's !markPrice@arr stream,
 * `publish_price(symbol, mark_price, mark_price)` (line 127): HSET quantum:ticker:{symbol}
 * (symbol, price, markPrice as str(float), timestamp in ms) + EXPIRE 10, and HSET
 * quantum:market:{symbol} (symbol, price, timestamp in s) + EXPIRE 10.
 */
import { epochSec, hsetMapping, pyInt, pyStr, type ProducerRedis } from './upstream.js';

export async function publishMarkPrice(redis: ProducerRedis, symbol: string, markPrice: number, nowMs: number): Promise<void> {
  const ticker = `quantum:ticker:${symbol}`;
  await hsetMapping(redis, ticker, { symbol, price: pyStr(markPrice), markPrice: pyStr(markPrice), timestamp: pyInt(nowMs) });
  await redis.expire(ticker, 10);
  const market = `quantum:market:${symbol}`;
  await hsetMapping(redis, market, { symbol, price: pyStr(markPrice), timestamp: pyInt(epochSec(nowMs)) });
  await redis.expire(market, 10);
}
