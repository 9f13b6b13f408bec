/**
 * The Position Ledger, P3.3 (microservices/position_state_brain/main.py): every POLL_INTERVAL
 * (P33_POLL_SEC, 5 s at the newest) it writes one hash per allowlisted symbol from Binance's
 * positionRisk, flat symbols included. Two layouts, one per era.
 */
import { epochSec, hsetMapping, pyInt, pyStr, type ProducerRedis } from './upstream.js';

/** One row of Binance's /fapi/v2/positionRisk as P3.3's get_position() parses it (floats, int leverage). */
export interface ExchangePosition {
  readonly symbol: string;
  /** Signed: + long, − short, 0 flat. */
  readonly positionAmt: number;
  readonly entryPrice: number;
  readonly markPrice: number;
  readonly unRealizedProfit: number;
  readonly leverage: number;
}

/** get_position()'s side: `'LONG' if amt > 0 else ('SHORT' if amt < 0 else 'NONE')` (2a52d5b45 line 144). */
const exchangeSide = (amt: number): string => (amt > 0 ? 'LONG' : amt < 0 ? 'SHORT' : 'NONE');

/**
 * Seed era: `update_exchange_snapshot` at 2a52d5b45 (the version at the seed commits), lines
 * 211-224: HSET quantum:position:snapshot:{symbol} with position_amt, side (LONG/SHORT/NONE),
 * entry_price, mark_price, unrealized_pnl (floats, repr), leverage (int), ts_epoch
 * (int(time.time())), source binance_testnet; EXPIRE 3600.
 */
export async function writeSeedPositionSnapshot(redis: ProducerRedis, p: ExchangePosition, nowMs: number): Promise<string> {
  const key = `quantum:position:snapshot:${p.symbol}`;
  await hsetMapping(redis, key, {
    position_amt: pyStr(p.positionAmt),
    side: exchangeSide(p.positionAmt),
    entry_price: pyStr(p.entryPrice),
    mark_price: pyStr(p.markPrice),
    unrealized_pnl: pyStr(p.unRealizedProfit),
    leverage: pyInt(p.leverage),
    ts_epoch: pyInt(epochSec(nowMs)),
    source: 'binance_testnet',
  });
  await redis.expire(key, 3600);
  return key;
}

/**
 * Newest: `update_exchange_snapshot` at 73fab1f55 (de25f13cb moved it here, 6e25aee60 kept it),
 * lines 495-532: HSET quantum:state:positions:{symbol} with symbol, position_amt (str), side
 * LONG/SHORT/FLAT, quantity (str(abs)), entry_price, mark_price, current_price (the mark again),
 * unrealized_pnl, leverage, ts_epoch (str), source position_state_brain; EXPIRE ttl_sec (3600 in
 * the main loop, line 996). The old prefix is no longer written.
 */
export async function writeNewestPosition(redis: ProducerRedis, p: ExchangePosition, nowMs: number, ttlSec = 3600): Promise<string> {
  const key = `quantum:state:positions:${p.symbol}`;
  const side = p.positionAmt > 0 ? 'LONG' : p.positionAmt < 0 ? 'SHORT' : 'FLAT';
  await hsetMapping(redis, key, {
    symbol: p.symbol,
    position_amt: pyStr(p.positionAmt),
    side,
    quantity: pyStr(Math.abs(p.positionAmt)),
    entry_price: pyStr(p.entryPrice),
    mark_price: pyStr(p.markPrice),
    current_price: pyStr(p.markPrice),
    unrealized_pnl: pyStr(p.unRealizedProfit),
    leverage: pyInt(p.leverage),
    ts_epoch: pyInt(epochSec(nowMs)),
    source: 'position_state_brain',
  });
  await redis.expire(key, ttlSec);
  return key;
}

/** One P3.3 pass over its allowlist, in the era's layout. */
export async function writeP33Pass(
  redis: ProducerRedis,
  era: 'seed' | 'newest',
  positions: readonly ExchangePosition[],
  nowMs: number,
): Promise<void> {
  for (const p of positions) {
    if (era === 'seed') await writeSeedPositionSnapshot(redis, p, nowMs);
    else await writeNewestPosition(redis, p, nowMs);
  }
}
