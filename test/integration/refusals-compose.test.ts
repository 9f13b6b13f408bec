import { afterEach, describe, expect, it } from 'vitest';
import { httpPlugins } from '../../app/http-plugins.js';
import { allHandlers } from '../../handlers/index.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { balanceTrackerSnapshot, marketStatePublished, p33NewestHash, tickerHash } from '../support/book-producers.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, produce, startRuntime, waitFor } from '../support/runtime.js';
import { untilStream } from '../support/until.js';

/**
 * Issue #70 item 3, measured cases 3 and 4: a refusal never raises trust in what remains. Each
 * fault alone is caught (the single-fault property); here two come together, or a producer's
 * figure outranks the others', through the real runtime on a private redis-server, as upstream's
 * producers write:
 * - the price feed's ticker (microservices/price_feed at 73fab1f55, `publish_price`; tickerHash);
 * - the seeds' market state, `quantum:state:market:{symbol}` mark_price and sigma (seed 000; no
 *   upstream writer);
 * - the balance tracker's snapshots (balance_tracker.py at 73fab1f55 lines 228-250; balanceTrackerSnapshot);
 * - the seeds' snapshot format (seed 000 line 144: `XADD quantum:stream:position.snapshot "*"
 *   symbol ETHUSDT position_notional_usd 1800 sigma 0.15`);
 * - the market state publisher's sigma (market_state_publisher/main.py; marketStatePublished);
 * - P3.3's newest layout (position_state_brain/main.py at 73fab1f55 lines 513-532; p33NewestHash).
 * Every case failed on 2af38d6 (each names what it did there).
 */
const nowSec = () => Date.now() / 1000;
/** Ten minutes: a producer's host clock that far ahead of Redis's. */
const AHEAD_SEC = 600;

describe('a refusal never raises trust in what remains (issue #70 item 3)', () => {
  const redis = usePrivateRedis();
  const running: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });

  const start = async (env: Record<string, string>) => {
    const runtime = await startRuntime(redis.url, { GOV_SYMBOL_COOLDOWN_SECONDS: '0', ...env }, allHandlers, { httpPlugins });
    running.push(runtime);
    return runtime;
  };

  /** A plan as upstream's apply layer publishes it (apply_layer/main.py at 8f5055c52 lines 673-690): no price, no notional. */
  const plan = (planId: string, symbol: string, action: string, qty: number) =>
    produce(redis.client, streams.applyPlan, [
      {
        plan_id: planId,
        symbol,
        action,
        decision: 'EXECUTE',
        side: action.includes('CLOSE') ? 'SELL' : 'BUY',
        qty: String(qty),
        timestamp: String(nowSec()),
      },
    ]);
  const verdict = (planId: string) =>
    untilStream(
      redis.client,
      streams.governorEvents,
      (events) => events.find((e) => e.plan_id === planId && (e.event === 'permit' || e.event === 'block')),
      { what: `the verdict on ${planId}` },
    );
  const heatDecision = (planId: string) =>
    untilStream(redis.client, streams.heatDecision, (entries) => entries.find((e) => e.plan_id === planId), {
      what: `the heat decision on ${planId}`,
    });
  /** A ticker of the price feed, stamped `aheadSec` ahead of Redis's clock. */
  const ticker = (symbol: string, mark: number, aheadSec = 0) =>
    redis.client.hset(keys.ticker(symbol), tickerHash(symbol, mark, Date.now() + aheadSec * 1000));

  it('measured 3a: ticker stamped ahead + market-state mark at 1/1000: an open of $1,500 is blocked market_price_unknown naming the ticker (was permitted, priced at $1.50, against the $200 per-trade cap)', async () => {
    // The true mark is 1,500: the price feed says so 10 min ahead of Redis's clock, the market state a thousandth of it.
    await ticker('ONEKUSDT', 1500, AHEAD_SEC);
    await redis.client.hset(keys.marketState('ONEKUSDT'), { mark_price: '1.5' });
    const gates = await start({ HANDLERS: 'governor', GOV_MAX_NOTIONAL_PER_TRADE_USDT: '200' });
    await plan('compose-open', 'ONEKUSDT', 'ENTRY_PROPOSED', 1);
    const decided = await verdict('compose-open');
    // On 2af38d6: permit, mark_price 1.5, computed_notional 1.5.
    expect(decided).toMatchObject({ event: 'block', reason: 'market_price_unknown', refused_inputs: 'ticker:future' });
    await waitFor(
      async () => (await metricSum(gates, 'quantum_govern_price_quotes_refused_total', { source: 'ticker', reason: 'future' })) > 0,
      {
        what: 'the refused ticker counted',
      },
    );
  });

  it('measured 3c: ticker stamped ahead + a tracker mark at 1/1000: an open is blocked position_price_unknown naming the symbol, its close permitted (was permitted: $2,400 against the $2,000 total cap)', async () => {
    // Two positions of $625 priced by tracker and ticker alike; a third of 1 unit at 1,000 whose
    // tracker mark is a thousandth of it, its ticker stamped 10 min ahead.
    const round = [balanceTrackerSnapshot('AUSDT', 1, 625, nowSec()), balanceTrackerSnapshot('BUSDT', 1, 625, nowSec())];
    await produce(redis.client, streams.positionSnapshot, [...round, balanceTrackerSnapshot('MILLIUSDT', 1, 1, nowSec())]);
    for (const s of ['AUSDT', 'BUSDT']) await ticker(s, 625);
    await ticker('MILLIUSDT', 1000, AHEAD_SEC);
    await ticker('NEWUSDT', 150);
    await start({ HANDLERS: 'governor,position-snapshot', GOV_MAX_TOTAL_NOTIONAL_USDT: '2000' });
    await plan('compose-total', 'NEWUSDT', 'ENTRY_PROPOSED', 1);
    const decided = await verdict('compose-total');
    // On 2af38d6: permit, total_notional 1251 ($1,000 + $1,250 + the open's $150 = $2,400 in truth).
    expect(decided).toMatchObject({ event: 'block', reason: 'position_price_unknown', unpriced_positions: 'MILLIUSDT' });
    // Closes pass: the symbol whose price is unknown can still be closed.
    await plan('compose-close', 'MILLIUSDT', 'FULL_CLOSE_PROPOSED', 1);
    expect(await verdict('compose-close')).toMatchObject({ event: 'permit', reason: 'close_bypass' });
  });

  /** $10,000 of equity, fresh (the portfolio state publisher's hash). */
  const equity = (usd: number) =>
    redis.client.hset(keys.portfolioState, { equity_usd: String(usd), timestamp: String(Math.floor(nowSec())) });
  const HELD = Array.from({ length: 10 }, (_, i) => `HEAT${i}USDT`);

  it("measured 4a: a snapshot's own sigma of 0.0015 beside two producers' 0.15: a HOT full close stays FULL_CLOSE at heat 0.9 (was PARTIAL_25 at heat 0.009, no cause named)", async () => {
    // Ten positions of $6,000 over $10,000 of equity: at sigma 0.15, heat 0.9 (HOT).
    await equity(10_000);
    for (const s of HELD) {
      await redis.client.hset(keys.marketStatePublished(s), marketStatePublished(0.15, nowSec()));
      await redis.client.hset(keys.marketState(s), { sigma: '0.15' });
    }
    await produce(
      redis.client,
      streams.positionSnapshot,
      HELD.map((s) => ({ symbol: s, position_notional_usd: '6000', sigma: '0.0015' })),
    );
    await start({ HANDLERS: 'heat-gate,position-snapshot', P26_MODE: 'enforce' });
    await produce(redis.client, streams.harvestProposal, [{ plan_id: 'sigma-close', symbol: 'HEAT0USDT', action: 'FULL_CLOSE' }]);
    const decision = await heatDecision('sigma-close');
    // On 2af38d6: out_action PARTIAL_25, heat_level cold, heat_score 0.009, no fail_closed_cause.
    expect(decision).toMatchObject({ in_action: 'FULL_CLOSE', out_action: 'FULL_CLOSE', heat_level: 'hot', heat_score: '0.9' });
    expect(decision.fail_closed_cause).toBeUndefined();
  });

  it('measured 4b: fresh snapshots of $60,000 beside a P3.3 hash stamped ahead: HOT is decided on what is trusted (was failed closed: COLD, PARTIAL_25)', async () => {
    await equity(10_000);
    for (const s of HELD) await redis.client.hset(keys.marketStatePublished(s), marketStatePublished(0.15, nowSec()));
    await produce(
      redis.client,
      streams.positionSnapshot,
      HELD.map((s) => balanceTrackerSnapshot(s, 60, 100, nowSec())),
    );
    // Another symbol P3.3 reports from a host 10 min ahead: its size is unknown, and can only add heat.
    await redis.client.hset(keys.p33StatePositions('LEDGERUSDT'), p33NewestHash('LEDGERUSDT', 1, 100, nowSec() + AHEAD_SEC));
    await redis.client.sadd(keys.p33PositionIndex, 'LEDGERUSDT');
    const gates = await start({ HANDLERS: 'heat-gate,position-snapshot', P26_MODE: 'enforce' });
    await produce(redis.client, streams.harvestProposal, [{ plan_id: 'proven-hot', symbol: 'HEAT0USDT', action: 'FULL_CLOSE' }]);
    const decision = await heatDecision('proven-hot');
    // On 2af38d6: out_action PARTIAL_25, heat_level unknown, fail_closed_cause position_stamped_ahead.
    expect(decision).toMatchObject({
      in_action: 'FULL_CLOSE',
      out_action: 'FULL_CLOSE',
      heat_level: 'hot',
      heat_score: '0.9',
      heat_lower_bound: 'position_stamped_ahead',
    });
    expect(decision.fail_closed_cause).toBeUndefined();
    await waitFor(
      async () => (await metricSum(gates, 'quantum_heat_gate_figures_refused_total', { source: 'p33', reason: 'future' })) > 0,
      {
        what: 'the refused figure counted',
      },
    );
    // The status says the heat is a lower bound, and why (DEGRADED).
    const status = (await gates.server.inject({ method: 'GET', url: '/status' })).json<{
      headline: { state: string; reasons: { text: string }[] };
    }>();
    expect(status.headline.state).toBe('DEGRADED');
    expect(status.headline.reasons.map((r) => r.text).join('\n')).toMatch(
      /decided HOT on a lower bound on 1 decision .*position_stamped_ahead/,
    );
    // What the trusted figures cannot prove still fails closed, by name: at $30,000 (heat 0.45) the unknown may make it HOT or not.
    await produce(
      redis.client,
      streams.positionSnapshot,
      HELD.map((s) => balanceTrackerSnapshot(s, 30, 100, nowSec())),
    );
    await produce(redis.client, streams.harvestProposal, [{ plan_id: 'unproven', symbol: 'HEAT0USDT', action: 'FULL_CLOSE' }]);
    expect(await heatDecision('unproven')).toMatchObject({
      out_action: 'PARTIAL_25',
      heat_level: 'unknown',
      fail_closed_cause: 'position_stamped_ahead',
    });
  });
});
