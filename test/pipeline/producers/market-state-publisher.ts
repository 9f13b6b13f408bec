/**
 * The market state publisher, P0.5 (microservices/market_state_publisher/main.py, a11675dc8: the
 * same file in both eras), lines 207-236: every MARKETSTATE_PUBLISH_INTERVAL (60 s) per symbol,
 * HSET quantum:marketstate:{symbol} (sigma and mu as f"{:.8f}", the rest f"{:.6f}", ts_timestamp
 * and buffer_size as str(int)) + EXPIRE interval × 10, and XADD quantum:stream:marketstate
 * MAXLEN ~ 10000. Nothing in upstream writes quantum:state:market:{symbol}.
 */
import { epochSec, hsetMapping, pyFixed, pyInt, xaddMaxlen, type ProducerRedis } from './upstream.js';

export interface MarketStateFigures {
  readonly sigma: number;
  readonly mu?: number;
  readonly ts?: number;
  readonly regime?: { readonly trend: number; readonly mr: number; readonly chop: number };
}

export async function writeMarketState(
  redis: ProducerRedis,
  symbol: string,
  f: MarketStateFigures,
  nowMs: number,
  intervalSec = 60,
): Promise<void> {
  const regime = f.regime ?? { trend: 0.5, mr: 0.3, chop: 0.2 };
  const key = `quantum:marketstate:${symbol}`;
  await hsetMapping(redis, key, {
    sigma: pyFixed(f.sigma, 8),
    mu: pyFixed(f.mu ?? 0.0001, 8),
    ts: pyFixed(f.ts ?? 0.4, 6),
    p_trend: pyFixed(regime.trend, 6),
    p_mr: pyFixed(regime.mr, 6),
    p_chop: pyFixed(regime.chop, 6),
    dp: pyFixed(0.01, 6),
    vr: pyFixed(1.1, 6),
    spike_proxy: pyFixed(0.2, 6),
    ts_timestamp: pyInt(epochSec(nowMs)),
    buffer_size: pyInt(300),
  });
  await redis.expire(key, intervalSec * 10);
  const dominant = Object.entries(regime).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  await xaddMaxlen(
    redis,
    'quantum:stream:marketstate',
    {
      symbol,
      ts: pyFixed(f.ts ?? 0.4, 6),
      sigma: pyFixed(f.sigma, 8),
      mu: pyFixed(f.mu ?? 0.0001, 8),
      regime: dominant,
      timestamp: pyInt(epochSec(nowMs)),
    },
    10000,
  );
}
