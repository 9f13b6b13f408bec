import { afterEach, describe, expect, it } from 'vitest';
import { httpPlugins } from '../../app/http-plugins.js';
import { allHandlers } from '../../handlers/index.js';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { pendingCount, produce, startRuntime } from '../support/runtime.js';
import { untilKeys, untilStream } from '../support/until.js';
import {
  balanceTrackerSnapshot,
  marketStatePublished,
  p33NewestHash,
  p33SeedHash,
  P33_NEWEST_TTL_SEC,
  P33_SEED_TTL_SEC,
  tickerHash,
  TICKER_TTL_SEC,
} from '../support/book-producers.js';

const nowSec = () => Math.floor(Date.now() / 1000);
const USER = 'ops';
const PASSWORD = 'correct-horse-battery';
const AUTH = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };

/**
 * Issue #22 items 1, 2, 3, 5 and 8 (budgets): the gates, through the real runtime, on what the
 * upstream producers write at each era (fixtures: test/support/book-producers.ts, each citing the
 * producer's code).
 */
describe('positions, prices and sigma as the real producers write them', () => {
  const redis = usePrivateRedis();
  const running: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });
  const start = async (env: Record<string, string>) => {
    const runtime = await startRuntime(redis.url, { LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', ...env }, allHandlers, {
      httpPlugins,
    });
    running.push(runtime);
    return runtime;
  };

  /** An open as the intent bridge writes it (side and qty, no close action). */
  const open = (planId: string, symbol: string, qty: string) =>
    redis.client.xadd(
      streams.applyPlan,
      '*',
      'decision',
      'EXECUTE',
      'plan_id',
      planId,
      'symbol',
      symbol,
      'action',
      'ENTRY_PROPOSED',
      'side',
      'BUY',
      'qty',
      qty,
    );
  const verdict = (planId: string) =>
    untilStream(
      redis.client,
      streams.governorEvents,
      (events) => events.find((e) => e.plan_id === planId && (e.event === 'permit' || e.event === 'block')),
      { what: `the governor's verdict on ${planId}` },
    );

  const ledger = async (layout: 'seed' | 'newest', symbol: string, amt: number, mark: number, tsSec = nowSec()) => {
    const [key, fields, ttl] =
      layout === 'seed'
        ? [keys.p33PositionSnapshot(symbol), p33SeedHash(amt, mark, tsSec), P33_SEED_TTL_SEC]
        : [keys.p33StatePositions(symbol), p33NewestHash(symbol, amt, mark, tsSec), P33_NEWEST_TTL_SEC];
    await redis.client.hset(key, fields);
    await redis.client.expire(key, ttl);
  };

  it.each(['seed', 'newest'] as const)(
    'a flat BNBUSDT with P3.3’s mark (%s layout): an open of 577 USD is blocked notional_per_trade_exceeded, one of 138 USD permitted',
    async (layout) => {
      await ledger(layout, 'BNBUSDT', 0, 690);
      await start({ HANDLERS: 'governor', APPLY_MODE: 'testnet' });
      // 0.8363 × 690 = $577.05 > the $200 cap; then 0.2 × 690 = $138 (the block set no cooldown).
      await open(`big-${layout}`, 'BNBUSDT', '0.8363');
      expect(await verdict(`big-${layout}`)).toMatchObject({ event: 'block', reason: 'notional_per_trade_exceeded' });
      await open(`small-${layout}`, 'BNBUSDT', '0.2');
      expect(await verdict(`small-${layout}`)).toMatchObject({ event: 'permit', computed_notional: '138', open_positions: '0' });
      expect(await redis.client.exists(keys.permit(`small-${layout}`))).toBe(1);
    },
  );

  it('prices from the price feed’s ticker alone', async () => {
    await redis.client.hset(keys.ticker('XRPUSDT'), tickerHash('XRPUSDT', 0.6, Date.now()));
    await redis.client.expire(keys.ticker('XRPUSDT'), TICKER_TTL_SEC);
    await start({ HANDLERS: 'governor' });
    await open('ticker-only', 'XRPUSDT', '100');
    expect(await verdict('ticker-only')).toMatchObject({ event: 'permit', computed_notional: '60' });
  });

  it('refuses stale prices: a P3.3 mark 2 min old and a ticker 1 min old → market_price_unknown', async () => {
    await ledger('seed', 'BNBUSDT', 0, 690, nowSec() - 120);
    await redis.client.hset(keys.ticker('BNBUSDT'), tickerHash('BNBUSDT', 691, Date.now() - 60_000));
    await start({ HANDLERS: 'governor' });
    await open('stale', 'BNBUSDT', '0.2');
    expect(await verdict('stale')).toMatchObject({ event: 'block', reason: 'market_price_unknown' });
  });

  it('positions only under quantum:state:positions: are counted by the governor, budgeted by the engine and listed on the status', async () => {
    const r = redis.client;
    // Six positions, $2,214 in all (upstream newest: P3.3 writes only this layout), and a flat one.
    const held: [string, number, number][] = [
      ['BTCUSDT', 0.005, 60000],
      ['ETHUSDT', 0.2, 3000],
      ['SOLUSDT', -2, 150],
      ['XRPUSDT', 200, 0.6],
      ['DOGEUSDT', 1000, 0.144],
      ['ADAUSDT', 1500, 0.5],
    ];
    for (const [symbol, amt, mark] of held) await ledger('newest', symbol, amt, mark);
    await ledger('newest', 'BNBUSDT', 0, 690);
    await r.hset(keys.portfolioState, { equity_usd: '10000', timestamp: String(nowSec()) });
    const runtime = await start({
      HANDLERS: 'position-index,governor,risk-budget',
      DASHBOARD_USER: USER,
      DASHBOARD_PASSWORD: PASSWORD,
      POSITION_P33_SYMBOLS: 'BTCUSDT,ETHUSDT,SOLUSDT,XRPUSDT,DOGEUSDT,ADAUSDT,BNBUSDT',
      POSITION_INDEX_REFRESH_SEC: '1',
      BUDGET_COMPUTE_INTERVAL_SEC: '1',
    });
    await untilKeys(r, [keys.p33PositionIndex], async () => (await r.scard(keys.p33PositionIndex)) === 7, { what: 'the P3.3 index' });
    await open('over-total', 'BNBUSDT', '0.1');
    // 300 + 600 + 300 + 120 + 144 + 750 = $2,214 held ≥ the $2,000 total cap.
    expect(await verdict('over-total')).toMatchObject({
      event: 'block',
      reason: 'total_notional_exceeded',
      open_positions: '6',
      total_notional: '2214',
    });
    const symbols = [...held.map(([s]) => s), 'BNBUSDT'];
    await untilKeys(
      r,
      symbols.map((s) => keys.budget(s)),
      async () => (await Promise.all(symbols.map((s) => r.exists(keys.budget(s))))).every((n) => n === 1),
      { what: 'a budget for every P3.3 symbol' },
    );
    const response = await runtime.server.inject({ url: '/status', headers: AUTH });
    expect(response.statusCode).toBe(200);
    const status = response.json<{ budgets: { symbol: string; budget_usd: number | null; position_notional_usd: number | null }[] }>();
    expect(status.budgets.map((b) => b.symbol)).toEqual([...symbols].sort());
    expect(status.budgets.every((b) => b.budget_usd !== null)).toBe(true);
    expect(status.budgets.find((b) => b.symbol === 'SOLUSDT')?.position_notional_usd).toBe(-300);
  });

  it('applies the balance tracker’s snapshots (no notional, no sigma), dead-letters none, and heat uses quantum:marketstate sigma', async () => {
    const r = redis.client;
    await r.hset(keys.portfolioState, 'equity_usd', '10000');
    // Two rounds of the tracker's 30 s publication, 7 open positions each: 14 entries.
    const open7: [string, number, number][] = [
      ['BTCUSDT', 0.01, 60000],
      ['ETHUSDT', -1, 3000],
      ['SOLUSDT', 10, 150],
      ['XRPUSDT', 500, 0.6],
      ['DOGEUSDT', 1000, 0.15],
      ['ADAUSDT', 200, 0.5],
      ['BNBUSDT', 1, 690],
    ];
    const round = () => open7.map(([symbol, amt, mark]) => balanceTrackerSnapshot(symbol, amt, mark, nowSec()));
    const ids = await produce(r, streams.positionSnapshot, [...round(), ...round()]);
    await r.hset(keys.marketStatePublished('ETHUSDT'), marketStatePublished(0.05, nowSec()));
    await start({ HANDLERS: 'position-snapshot,heat-gate' });
    // BNBUSDT's second snapshot is the stream's last: the gate commits in stream order.
    await untilKeys(r, [keys.positionAppliedId('BNBUSDT')], async () => (await r.get(keys.positionAppliedId('BNBUSDT'))) === ids.at(-1), {
      what: '14 snapshots handled',
    });
    expect(await pendingCount(r, streams.positionSnapshot, 'position_snapshot')).toBe(0);
    expect(await r.xlen(streams.deadLetter)).toBe(0);
    expect(await r.hget(keys.position('ETHUSDT'), 'position_notional_usd')).toBe('-3000');
    expect(await r.ttl(keys.position('ETHUSDT'))).toBeGreaterThan(0);
    expect((await r.smembers(keys.activePositions)).length).toBe(7);
    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'bt-heat', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    const decision = await untilStream(r, streams.harvestCalibrated, (entries) => entries.find((e) => e.plan_id === 'bt-heat'), {
      what: 'the heat decision',
    });
    // |−3,000| × 0.05 / 10,000 = 0.015: non-zero, and trusted (not the fail-closed cause).
    expect(decision).toMatchObject({ heat_value: '0.015', heat_bucket: 'COLD' });
    expect(decision.fail_closed_cause ?? '').toBe('');
  });

  it('a position the balance tracker stopped reporting leaves the book (POSITION_MAX_AGE_SEC, 120 s); a P3.3 hash stays until its TTL', async () => {
    const r = redis.client;
    const t = Date.now();
    // The balance tracker's last word on SOLUSDT 200 s ago (then it closed: no zero is ever sent);
    // P3.3's on BTCUSDT 200 s ago too (P3.3 stopped: its hash counts until its own TTL, 1 h, since
    // P3.3 reports closes itself); ETHUSDT reported now.
    await r.xadd(
      streams.positionSnapshot,
      `${t - 200_000}-0`,
      ...Object.entries(balanceTrackerSnapshot('SOLUSDT', 10, 150, (t - 200_000) / 1000)).flat(),
    );
    await r.xadd(streams.positionSnapshot, '*', ...Object.entries(balanceTrackerSnapshot('ETHUSDT', 0.1, 3000, nowSec())).flat());
    await ledger('newest', 'BTCUSDT', 0.01, 60000, nowSec() - 200);
    await r.hset(keys.marketState('XRPUSDT'), 'mark_price', '0.6');
    await start({
      HANDLERS: 'position-snapshot,position-index,governor',
      POSITION_P33_SYMBOLS: 'BTCUSDT',
      POSITION_INDEX_REFRESH_SEC: '1',
    });
    await untilKeys(r, [keys.p33PositionIndex], async () => (await r.sismember(keys.p33PositionIndex, 'BTCUSDT')) === 1, {
      what: 'the P3.3 index',
    });
    await untilKeys(r, [keys.positionAppliedId('ETHUSDT')], async () => (await r.exists(keys.positionAppliedId('ETHUSDT'))) === 1, {
      what: 'snapshots applied',
    });

    await open('after-close', 'XRPUSDT', '100');
    expect(await verdict('after-close')).toMatchObject({ event: 'permit', open_positions: '2', total_notional: '900' });
  });
});
