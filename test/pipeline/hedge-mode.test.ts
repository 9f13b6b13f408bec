/**
 * Hedge mode, as the real pipeline writes it (issue #70): the account holds a LONG and a SHORT leg
 * of ETHUSDT. The balance tracker publishes one entry per leg (`_publish_positions`,
 * microservices/balance_tracker/balance_tracker.py at 73fab1f55, lines 185-251: one entry per row of
 * the account's positions with positionAmt ≠ 0, side from its sign); P3.3 writes one hash per
 * symbol from the first row positionRisk returns for it (`get_position`,
 * microservices/position_state_brain/main.py at 73fab1f55, lines 162-176), so it reports one leg,
 * whichever Binance lists first: both orders are replayed. The balance tracker exists at the newest
 * era only (test/pipeline/producers/balance-tracker.ts), so this is the newest era's traffic.
 *
 * The governor must count the legs gross (two slots, both notionals) and the heat gate must heat
 * both. Keeping one entry per symbol (2af38d6) counted the newest leg alone ($1,660 or $1,500), and
 * the open below was permitted although the book's gross, $2,140, is over the $2,000 total cap.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../runtime/host/runtime.js';
import { streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime, metricSum, waitFor } from '../support/runtime.js';
import { untilStream } from '../support/until.js';
import { publishIntentBridgePlan, type Intent } from './producers/intent-bridge.js';
import { writeMarketState } from './producers/market-state-publisher.js';
import { writePortfolioState } from './producers/portfolio-state-publisher.js';
import { writeP33Pass, type ExchangePosition } from './producers/position-state-brain.js';
import { publishMarkPrice } from './producers/price-feed.js';
import { EQUITY_USD, exchange, publishAccountRows, sigma } from './traffic.js';

/** The second leg: ETHUSDT LONG 0.15 ($480) beside the book's SHORT 0.2 ($640), both marked at 3,200. */
const ethShort = exchange.find((p) => p.symbol === 'ETHUSDT')!;
const ethLong: ExchangePosition = { ...ethShort, positionAmt: 0.15, entryPrice: 3_150, unRealizedProfit: 7.5 };
/** The account's rows: every open position, and ETHUSDT's two legs. */
const accountRows: readonly ExchangePosition[] = [...exchange.filter((p) => p.positionAmt !== 0), ethLong];
const grossOf = (p: ExchangePosition): number => Math.abs(p.positionAmt * p.markPrice);
/** $1,660 of one-way positions plus the LONG leg's $480: $2,140, over the $2,000 cap (either leg alone leaves it under). */
const grossNotional = accountRows.reduce((sum, p) => sum + grossOf(p), 0);
const grossHeat = accountRows.reduce((sum, p) => sum + grossOf(p) * sigma[p.symbol]!, 0) / EQUITY_USD;
/** $138 on the flat BNBUSDT: under the per-trade cap; the book alone is over the total cap only with both legs counted. */
const bnbOpen: Intent = { symbol: 'BNBUSDT', side: 'BUY', qty: 0.22, leverage: 10, entryPrice: 627.5 };

const firstListed = ['LONG', 'SHORT'] as const;

describe.each(firstListed)('a hedge-mode account, positionRisk listing the %s leg first (newest era)', (first) => {
  let redis: TestRedis;
  let r: Redis;
  let runtime: Runtime;

  /** What P3.3 writes for each allowlisted symbol: ETHUSDT's first row only. */
  const p33Rows = exchange.map((p) => (p.symbol === 'ETHUSDT' && first === 'LONG' ? ethLong : p));

  async function producersPass(now: number): Promise<void> {
    await writeP33Pass(r, 'newest', p33Rows, now);
    await writePortfolioState(
      r,
      {
        equityUsd: EQUITY_USD,
        positionsNotionalUsd: p33Rows.reduce((s, p) => s + grossOf(p), 0),
        positionsCount: p33Rows.filter((p) => p.positionAmt !== 0).length,
        unrealizedPnlUsd: p33Rows.reduce((s, p) => s + p.unRealizedProfit, 0),
      },
      now,
    );
    for (const p of exchange) await publishMarkPrice(r, p.symbol, p.markPrice, now);
    await publishAccountRows(r, accountRows, now);
  }

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client;
    const now = Date.now();
    await producersPass(now);
    for (const [symbol, s] of Object.entries(sigma)) await writeMarketState(r, symbol, { sigma: s }, now);
    runtime = await createTestRuntime(redis.url, { POSITION_P33_SYMBOLS: exchange.map((p) => p.symbol).join(',') });
    await runtime.start();
    await waitFor(async () => (await runtime.server.inject({ url: '/ready' })).statusCode === 200 || undefined, { timeoutMs: 20_000 });
  }, 60_000);

  afterAll(async () => {
    await runtime?.stop();
    await redis?.stop();
  });

  it('the heat gate heats both legs', async () => {
    // The heat is computed at start and on each refresh; both legs are in the book from the start.
    const heat = await waitFor(async () => (await metricSum(runtime, 'p26_heat_value')) || undefined, { timeoutMs: 15_000 });
    expect(heat).toBeCloseTo(grossHeat, 6);
  });

  it('the governor counts both legs: six slots and $2,140, so an open is blocked at the $2,000 total cap', async () => {
    const now = Date.now();
    await producersPass(now);
    const { planId } = await publishIntentBridgePlan(r, 'newest', `${now}-0`, bnbOpen, now);
    const verdict = await untilStream(
      r,
      streams.governorEvents,
      (events) => events.find((e) => e.plan_id === planId && (e.event === 'permit' || e.event === 'block')),
      { what: 'the open decided', timeoutMs: 20_000 },
    );
    expect(verdict).toMatchObject({ event: 'block', reason: 'total_notional_exceeded', open_positions: String(accountRows.length) });
    expect(Number(verdict.total_notional)).toBeCloseTo(grossNotional, 6);
  });
});
