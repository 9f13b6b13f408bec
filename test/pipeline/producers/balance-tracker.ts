/**
 * The balance tracker (microservices/balance_tracker/balance_tracker.py), newest era only (the
 * seed era had no producer of quantum:stream:position.snapshot in upstream's code: tests and
 * scripts). `_publish_positions` at 73fab1f55 (last changed in de25f13cb), lines 182-253: every
 * BALANCE_POLL_INTERVAL (30 s) one entry per open position (positionAmt != 0), MAXLEN ~ 1000; no
 * position_notional_usd, no sigma, and nothing at all for a position that closed.
 */
import { epochSec, pyStr, xaddMaxlen, type ProducerRedis } from './upstream.js';

/** One row of Binance's /fapi/v2/account `positions` (strings and a bool, as the JSON decodes). */
export interface AccountPosition {
  readonly symbol: string;
  readonly positionAmt: number;
  readonly entryPrice: number;
  readonly unrealizedProfit: number;
  /** The account endpoint's leverage is a string ("10"). */
  readonly leverage: string;
  readonly isolated: boolean;
}

export async function publishBalanceTrackerPositions(
  redis: ProducerRedis,
  positions: readonly AccountPosition[],
  nowMs: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (const position of positions.filter((p) => p.positionAmt !== 0)) {
    const entry = position.entryPrice;
    const amt = position.positionAmt;
    // "mark = entry + (PnL / signed_qty)" (lines 205-208).
    const mark = amt !== 0 && entry > 0 ? entry + position.unrealizedProfit / amt : entry;
    // stop_loss/take_profit from P3.3's canonical hash, else "0" (lines 211-225).
    const ledger = await redis.hgetall(`quantum:state:positions:${position.symbol}`);
    const now = String(epochSec(nowMs));
    ids.push(
      await xaddMaxlen(
        redis,
        'quantum:stream:position.snapshot',
        {
          event_type: 'position.snapshot',
          symbol: position.symbol,
          side: amt > 0 ? 'LONG' : 'SHORT',
          position_qty: pyStr(Math.abs(amt)),
          entry_price: pyStr(entry),
          mark_price: pyStr(mark),
          unrealized_pnl: pyStr(position.unrealizedProfit),
          leverage: position.leverage,
          isolated: position.isolated ? 'True' : 'False',
          // The account endpoint has no liquidationPrice: str(position.get("liquidationPrice", 0)).
          liquidation_price: '0',
          margin_type: position.isolated ? 'isolated' : 'cross',
          stop_loss: ledger.stop_loss || '0',
          take_profit: ledger.take_profit || '0',
          entry_timestamp: now,
          timestamp: now,
          source: 'balance-tracker',
        },
        1000,
      ),
    );
  }
  return ids;
}
