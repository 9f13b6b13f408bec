import type { PositionBookConfig } from '../../handlers/positions/book.js';
import { streams } from '../../schemas/keys.js';

/**
 * What the upstream producers of positions, prices and sigma write, field for field, for the
 * position book's tests. Each writer cites the upstream code it copies
 * (binyaminsemerci-ops/quantum_trader; the seed era is 8f5055c52, upstream's newest 73fab1f55).
 * Values are strings as redis-py writes them: str() of a Python float keeps its ".0".
 */

/** str(x) of a Python float: 0.0, 612.5, -0.5. */
export const pyFloat = (value: number): string => (Number.isInteger(value) ? value.toFixed(1) : String(value));

/**
 * P3.3 at the seed era: microservices/position_state_brain/main.py @8f5055c52 lines 211–224
 * (`update_exchange_snapshot`: HSET quantum:position:snapshot:{symbol}, EXPIRE 3600), the side from
 * line 144 (NONE when flat), every P33_POLL_SEC (5 s, line 73) for every allowlisted symbol.
 */
export function p33SeedHash(amt: number, mark: number, tsEpochSec: number): Record<string, string> {
  return {
    position_amt: pyFloat(amt),
    side: amt > 0 ? 'LONG' : amt < 0 ? 'SHORT' : 'NONE',
    entry_price: pyFloat(amt === 0 ? 0 : mark),
    mark_price: pyFloat(mark),
    unrealized_pnl: pyFloat(0),
    leverage: '20',
    ts_epoch: String(Math.floor(tsEpochSec)),
    source: 'binance_testnet',
  };
}
export const P33_SEED_TTL_SEC = 3600;

/**
 * P3.3 at upstream's newest: microservices/position_state_brain/main.py @73fab1f55 lines 513–532
 * (`update_exchange_snapshot`: HSET quantum:state:positions:{symbol}, EXPIRE ttl_sec = 3600; FLAT
 * when flat; since de25f13cb the only key it writes).
 */
export function p33NewestHash(symbol: string, amt: number, mark: number, tsEpochSec: number): Record<string, string> {
  return {
    symbol,
    position_amt: pyFloat(amt),
    side: amt > 0 ? 'LONG' : amt < 0 ? 'SHORT' : 'FLAT',
    quantity: pyFloat(Math.abs(amt)),
    entry_price: pyFloat(amt === 0 ? 0 : mark),
    mark_price: pyFloat(mark),
    current_price: pyFloat(mark),
    unrealized_pnl: pyFloat(0),
    leverage: '20',
    ts_epoch: String(Math.floor(tsEpochSec)),
    source: 'position_state_brain',
  };
}
export const P33_NEWEST_TTL_SEC = 3600;

/**
 * The balance tracker's position snapshot: microservices/balance_tracker/balance_tracker.py
 * @73fab1f55 lines 228–250 (`_publish_positions`: XADD quantum:stream:position.snapshot, one entry
 * per open position every BALANCE_POLL_INTERVAL = 30 s, line 68; nothing when a position closes).
 * `amt` is Binance's signed positionAmt; mark = entry + unrealized / amt (line 207).
 */
export function balanceTrackerSnapshot(symbol: string, amt: number, mark: number, nowSec: number): Record<string, string> {
  return {
    event_type: 'position.snapshot',
    symbol,
    side: amt > 0 ? 'LONG' : 'SHORT',
    position_qty: pyFloat(Math.abs(amt)),
    entry_price: pyFloat(mark),
    mark_price: pyFloat(mark),
    unrealized_pnl: pyFloat(0),
    leverage: '20',
    isolated: 'False',
    liquidation_price: '0',
    margin_type: 'cross',
    stop_loss: '0',
    take_profit: '0',
    entry_timestamp: String(Math.floor(nowSec)),
    timestamp: String(Math.floor(nowSec)),
    source: 'balance-tracker',
  };
}

/**
 * The balance tracker's account hash, written every round before its position snapshots:
 * microservices/balance_tracker/balance_tracker.py @73fab1f55 lines 129-148 (`fetch_and_publish_balance`:
 * HSET quantum:account:balance; total_positions counts positionAmt ≠ 0, timestamp int(time.time())).
 */
export function balanceTrackerAccount(totalPositions: number, nowSec: number): Record<string, string> {
  return {
    balance: pyFloat(10000),
    available_balance: pyFloat(8000),
    margin_used: pyFloat(2000),
    unrealized_pnl: pyFloat(0),
    total_positions: String(totalPositions),
    timestamp: String(Math.floor(nowSec)),
    last_updated: new Date(nowSec * 1000).toISOString().replace('Z', ''),
    margin_ratio: '0.2',
    available_ratio: '0.8',
  };
}

/**
 * The market state publisher: microservices/market_state_publisher/main.py lines 207–224, the
 * same at 1370c1def and 73fab1f55 (HSET quantum:marketstate:{symbol}; `ts` is trend strength, the
 * time is ts_timestamp; EXPIRE PUBLISH_INTERVAL_SEC × 10 = 600 s).
 */
export function marketStatePublished(sigma: number, nowSec: number): Record<string, string> {
  return {
    sigma: sigma.toFixed(8),
    mu: (0).toFixed(8),
    ts: (0.1).toFixed(6),
    p_trend: (0.3).toFixed(6),
    p_mr: (0.3).toFixed(6),
    p_chop: (0.4).toFixed(6),
    dp: (0).toFixed(6),
    vr: (1).toFixed(6),
    spike_proxy: (0).toFixed(6),
    ts_timestamp: String(Math.floor(nowSec)),
    buffer_size: '300',
  };
}

/**
 * The price feed: microservices/price_feed/price_feed.py @73fab1f55 lines 90–98 (HSET
 * quantum:ticker:{symbol}, timestamp in ms, EXPIRE 10).
 */
export function tickerHash(symbol: string, mark: number, nowMs: number): Record<string, string> {
  return { symbol, price: String(mark), markPrice: String(mark), timestamp: String(Math.floor(nowMs)) };
}
export const TICKER_TTL_SEC = 10;

/**
 * P3.3's universe (newest era): position_state_brain/main.py @73fab1f55 lines 285–291 read
 * quantum:cfg:universe:active as JSON and take its "symbols".
 */
export const universeJson = (symbols: readonly string[], asofEpochSec: number): string =>
  JSON.stringify({ symbols, asof_epoch: asofEpochSec });

/** The position book's settings the book's tests read with: the defaults, figures aging out at 120 s. */
export const BOOK_CONFIG: PositionBookConfig = {
  POSITION_SNAPSHOT_STREAM: streams.positionSnapshot,
  POSITION_SNAPSHOT_GROUP: 'position_snapshot',
  POSITION_BOOK_MAX_PENDING: 1000,
  POSITION_MAX_AGE_SEC: 120,
};
