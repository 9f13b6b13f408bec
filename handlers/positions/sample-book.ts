import type { SampleRedis } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';
import { pyFloatStr as pyFloat } from '../../schemas/python-number.js';

/**
 * A small book for the start-up warm-up (WarmUpSample): four open positions on $10,000 of equity,
 * as test/pipeline/traffic.ts has them, so the gates' warm-up takes the path real traffic takes
 * (a trusted heat, a downgrade with its mark). Written as the producers write them; each shape
 * cites the fixture (test/pipeline/producers/) that cites the upstream code.
 */
export const samplePositions = [
  { symbol: 'BTCUSDT', qty: 0.006, mark: 95_000, sigma: 0.02 },
  { symbol: 'ETHUSDT', qty: -0.2, mark: 3_200, sigma: 0.03 },
  { symbol: 'SOLUSDT', qty: 2, mark: 150, sigma: 0.05 },
  { symbol: 'DOGEUSDT', qty: 1_000, mark: 0.15, sigma: 0.04 },
] as const;

export const sampleSymbols: readonly string[] = samplePositions.map((p) => p.symbol);

/** What the gates read of the book: equity (the portfolio state publisher's hash) and our view of each position. */
export function sampleBookRedis(nowMs: number): SampleRedis {
  const nowSec = String(Math.floor(nowMs / 1000));
  const notional = samplePositions.reduce((sum, p) => sum + Math.abs(p.qty * p.mark), 0);
  return {
    hashes: {
      // writePortfolioState (portfolio-state-publisher.ts).
      [keys.portfolioState]: {
        ts_utc: nowSec,
        timestamp: nowSec,
        equity_usd: '10000.00',
        balance_usd: '9954.00',
        unrealized_pnl_usd: '46.00',
        positions_count: String(samplePositions.length),
        positions_notional_usd: notional.toFixed(2),
        source: 'portfolio-state-publisher',
        drawdown: '0.0',
      },
      // What the position-snapshot gate makes of a seed-format snapshot (handlers/position-snapshot.ts).
      ...Object.fromEntries(
        samplePositions.map((p, i) => [
          keys.position(p.symbol),
          {
            symbol: p.symbol,
            position_notional_usd: String(p.qty * p.mark),
            updated_at: String(nowMs - 1_000),
            source_id: `${nowMs - 1_000}-${i}`,
            sigma: String(p.sigma),
            qty: String(p.qty),
            mark_price: String(p.mark),
          },
        ]),
      ),
    },
    sets: { [keys.activePositions]: [...sampleSymbols] },
  };
}

/**
 * The n-th snapshot of the sample book, alternately in the two formats of
 * quantum:stream:position.snapshot (schemas/position-snapshot.ts): the seeds' (a signed notional
 * and sigma) and the balance tracker's (balanceTrackerSnapshot, test/support/book-producers.ts).
 */
export function sampleSnapshot(n: number, nowMs: number): Record<string, string> {
  const p = samplePositions[n % samplePositions.length]!;
  if (n % 2 === 0)
    return {
      symbol: p.symbol,
      position_notional_usd: String(p.qty * p.mark),
      sigma: String(p.sigma),
      qty: String(p.qty),
      mark_price: String(p.mark),
    };
  const nowSec = String(Math.floor(nowMs / 1000));
  return {
    event_type: 'position.snapshot',
    symbol: p.symbol,
    side: p.qty > 0 ? 'LONG' : 'SHORT',
    position_qty: pyFloat(Math.abs(p.qty)),
    entry_price: pyFloat(p.mark),
    mark_price: pyFloat(p.mark),
    unrealized_pnl: pyFloat(0),
    leverage: '20',
    isolated: 'False',
    liquidation_price: '0',
    margin_type: 'cross',
    stop_loss: '0',
    take_profit: '0',
    entry_timestamp: nowSec,
    timestamp: nowSec,
    source: 'balance-tracker',
  };
}
