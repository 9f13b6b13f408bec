/**
 * The portfolio state publisher (microservices/portfolio_state_publisher/main.py), every
 * PSP_INTERVAL_SEC (5 s). Seed era: 1ffa46cdc (2026-01-28 03:06, "add timestamp field for P2.8
 * compatibility", the first version P2.8 could read), lines 182-200; newest: 73fab1f55 lines
 * 191-209, the same fields. Both write HSET quantum:state:portfolio + EXPIRE PSP_STATE_TTL_SEC
 * (120) and XADD quantum:stream:portfolio.state MAXLEN ~ 1000. The newest also writes RiskGuard's
 * equity hash and `quantum:equity_usd` (lines 147-153), which no gate reads: left out.
 */
import { epochSec, hsetMapping, pyFixed, pyInt, xaddMaxlen, type ProducerRedis } from './upstream.js';

export interface PortfolioFigures {
  readonly equityUsd: number;
  /** Σ notional_usd of the positions it found (P3.3's hashes). */
  readonly positionsNotionalUsd: number;
  readonly positionsCount: number;
  readonly unrealizedPnlUsd: number;
}

export async function writePortfolioState(redis: ProducerRedis, f: PortfolioFigures, nowMs: number): Promise<Record<string, string>> {
  const now = epochSec(nowMs);
  const state = {
    ts_utc: pyInt(now),
    timestamp: pyInt(now),
    equity_usd: pyFixed(f.equityUsd, 2),
    balance_usd: pyFixed(f.equityUsd - f.unrealizedPnlUsd, 2),
    unrealized_pnl_usd: pyFixed(f.unrealizedPnlUsd, 2),
    positions_count: pyInt(f.positionsCount),
    positions_notional_usd: pyFixed(f.positionsNotionalUsd, 2),
    source: 'portfolio-state-publisher',
    drawdown: '0.0',
  };
  await hsetMapping(redis, 'quantum:state:portfolio', state);
  await redis.expire('quantum:state:portfolio', 120);
  await xaddMaxlen(redis, 'quantum:stream:portfolio.state', state, 1000);
  return state;
}
