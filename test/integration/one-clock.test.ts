import { afterEach, describe, expect, it } from 'vitest';
import { httpPlugins } from '../../app/http-plugins.js';
import { allHandlers } from '../../handlers/index.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { balanceTrackerSnapshot, marketStatePublished, tickerHash } from '../support/book-producers.js';
import { hostClockApart } from '../support/clock.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, produce, startRuntime } from '../support/runtime.js';
import { untilStream } from '../support/until.js';

/**
 * Issue #69 item 1: one clock. The gates' host keeps its own time (a failed NTP sync, a VM resumed
 * from a snapshot), while Redis stamps every stream id and the producers write beside it. Each
 * runtime here runs on a host clock set apart from Redis's (the test's `hostClockApart`), and Redis's
 * TIME is the machine's own: every case failed on 2af38d6, where decisions read the host's clock.
 */
describe("one clock: decisions read Redis's clock, never the host's", () => {
  const redis = usePrivateRedis();
  const running: Runtime[] = [];
  let hostAheadMs = 0;
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.stop()));
    hostAheadMs = 0;
  });

  const start = async (env: Record<string, string>) => {
    const runtime = await startRuntime(redis.url, { GOV_SYMBOL_COOLDOWN_SECONDS: '0', ...env }, allHandlers, {
      httpPlugins,
      clock: hostClockApart(() => hostAheadMs),
    });
    running.push(runtime);
    return runtime;
  };

  const HELD = Array.from({ length: 10 }, (_, i) => `HELD${i}USDT`);
  const nowSec = () => Date.now() / 1000;
  /** The balance tracker's round: one entry per open position (book-producers.ts cites upstream). */
  const trackerRound = (symbols: readonly string[], amt: number, mark: number) =>
    produce(
      redis.client,
      streams.positionSnapshot,
      symbols.map((s) => balanceTrackerSnapshot(s, amt, mark, nowSec())),
    );

  /** A plan as upstream's apply layer publishes it (book-producers.ts and governor tests cite it), stamped by a producer on Redis's time. */
  const plan = (planId: string, symbol: string, action: string, stampSec = nowSec()) =>
    produce(redis.client, streams.applyPlan, [
      { plan_id: planId, symbol, action, decision: 'EXECUTE', side: 'BUY', qty: '1', price: '100', timestamp: String(stampSec) },
    ]);
  const verdict = (planId: string) =>
    untilStream(
      redis.client,
      streams.governorEvents,
      (events) => events.find((e) => e.plan_id === planId && (e.event === 'permit' || e.event === 'block')),
      { what: `the verdict on ${planId}` },
    );
  const price = (symbol: string) => redis.client.hset(keys.ticker(symbol), tickerHash(symbol, 100, Date.now()));

  it('host 200 s ahead: ten held positions stay held, a new open is blocked max_positions_reached (was permitted at 0, $0)', async () => {
    await trackerRound(HELD, 1, 100);
    await price('NEW1USDT');
    hostAheadMs = 200_000;
    const runtime = await start({ HANDLERS: 'governor,position-snapshot', GOV_MAX_OPEN_POSITIONS: '10' });
    await plan('ahead-1', 'NEW1USDT', 'ENTRY_PROPOSED');
    expect(await verdict('ahead-1')).toMatchObject({ event: 'block', reason: 'max_positions_reached', open_positions: '10' });
    // Nothing was refused as stamped ahead or aged out: the offset is shown, not used.
    expect(await metricSum(runtime, 'quantum_govern_figures_refused_total')).toBe(0);
    const offset = await metricSum(runtime, 'quantum_gates_clock_offset_seconds');
    expect(offset).toBeGreaterThan(199);
    expect(offset).toBeLessThan(201);
  });

  it('a jump of +200 s and back while the tracker repeats its round: blocked throughout (was blocked, permitted at 0, blocked)', async () => {
    await trackerRound(HELD, 1, 100);
    await price('JUMPUSDT');
    await start({ HANDLERS: 'governor,position-snapshot', GOV_MAX_OPEN_POSITIONS: '10' });
    for (const [step, aheadMs] of [0, 200_000, 0].entries()) {
      hostAheadMs = aheadMs;
      await trackerRound(HELD, 1, 100);
      await plan(`jump-${step}`, 'JUMPUSDT', 'ENTRY_PROPOSED');
      expect(await verdict(`jump-${step}`)).toMatchObject({ event: 'block', reason: 'max_positions_reached', open_positions: '10' });
    }
  });

  it('a reservation outlives a jump of the host clock past its timeout: 9 held, A permitted, +200 s, B blocked (was permitted: 11 once both fill)', async () => {
    await trackerRound(HELD.slice(0, 9), 1, 100);
    for (const s of ['RESAUSDT', 'RESBUSDT']) await price(s);
    await start({ HANDLERS: 'governor,position-snapshot', GOV_MAX_OPEN_POSITIONS: '10', GOV_RESERVATION_TIMEOUT_SEC: '120' });
    await plan('res-a', 'RESAUSDT', 'ENTRY_PROPOSED');
    expect(await verdict('res-a')).toMatchObject({ event: 'permit' });
    hostAheadMs = 200_000;
    await plan('res-b', 'RESBUSDT', 'ENTRY_PROPOSED');
    expect(await verdict('res-b')).toMatchObject({ event: 'block', reason: 'max_positions_reached' });
  });

  it('two governor replicas whose hosts disagree by 200 s share one reservation clock: 9 held, A permitted by one, B blocked by the other', async () => {
    await trackerRound(HELD.slice(0, 9), 1, 100);
    for (const s of ['REPAUSDT', 'REPBUSDT']) await price(s);
    const env = { HANDLERS: 'governor,position-snapshot', GOV_MAX_OPEN_POSITIONS: '10', GOV_RESERVATION_TIMEOUT_SEC: '120' };
    const replica = async (aheadMs: number, name: string) => {
      const runtime = await startRuntime(redis.url, { GOV_SYMBOL_COOLDOWN_SECONDS: '0', CONSUMER_NAME: name, ...env }, allHandlers, {
        httpPlugins,
        clock: hostClockApart(() => aheadMs),
      });
      running.push(runtime);
      return runtime;
    };
    // A reservation scored on the true host's clock (expiring 120 s on) has expired by the ahead
    // host's reading. Redis's clock scores both.
    const onTime = await replica(0, 'on-time');
    await plan('rep-a', 'REPAUSDT', 'ENTRY_PROPOSED');
    expect(await verdict('rep-a')).toMatchObject({ event: 'permit' });
    await onTime.stop();
    await replica(200_000, 'ahead');
    await plan('rep-b', 'REPBUSDT', 'ENTRY_PROPOSED');
    expect(await verdict('rep-b')).toMatchObject({ event: 'block', reason: 'max_positions_reached' });
  });

  it('host 8 s behind: plans stamped on the true time are decided as ever, closes permitted (was every plan blocked plan_time_in_future)', async () => {
    await trackerRound(HELD.slice(0, 3), 1, 100);
    await price('BEHINDUSDT');
    hostAheadMs = -8_000;
    await start({ HANDLERS: 'governor,position-snapshot', GOV_MAX_OPEN_POSITIONS: '10' });
    await plan('behind-open', 'BEHINDUSDT', 'ENTRY_PROPOSED');
    await plan('behind-close', 'HELD0USDT', 'FULL_CLOSE_PROPOSED');
    expect(await verdict('behind-open')).toMatchObject({ event: 'permit', open_positions: '3' });
    expect(await verdict('behind-close')).toMatchObject({ event: 'permit' });
  });

  it("host 60 s behind: the tracker's figures are not refused as stamped ahead, and count", async () => {
    await trackerRound(HELD, 1, 100);
    await price('FARUSDT');
    hostAheadMs = -60_000;
    const runtime = await start({ HANDLERS: 'governor,position-snapshot', GOV_MAX_OPEN_POSITIONS: '10' });
    await plan('far-open', 'FARUSDT', 'ENTRY_PROPOSED');
    expect(await verdict('far-open')).toMatchObject({ event: 'block', reason: 'max_positions_reached', open_positions: '10' });
    expect(await metricSum(runtime, 'quantum_govern_figures_refused_total')).toBe(0);
  });

  it("a plan stamped 60 s ahead of Redis's clock: its open is blocked naming the clocks, its close permitted", async () => {
    await trackerRound(HELD.slice(0, 3), 1, 100);
    await price('STAMPUSDT');
    await start({ HANDLERS: 'governor,position-snapshot', GOV_MAX_OPEN_POSITIONS: '10' });
    await plan('stamp-open', 'STAMPUSDT', 'ENTRY_PROPOSED', nowSec() + 60);
    await plan('stamp-close', 'HELD1USDT', 'FULL_CLOSE_PROPOSED', nowSec() + 60);
    const open = await verdict('stamp-open');
    expect(open).toMatchObject({ event: 'block', reason: 'plan_time_in_future' });
    expect(JSON.stringify(open)).toContain("Redis's clock");
    expect(await verdict('stamp-close')).toMatchObject({ event: 'permit' });
  });

  it('heat gate, enforce, host 200 s ahead: a HOT full close stays FULL_CLOSE at heat 0.9 (was PARTIAL_25 at heat 0.0)', async () => {
    // Ten positions of $6,000 at sigma 0.15 over $10,000 of equity: heat 0.9, HOT.
    await redis.client.hset(keys.portfolioState, { equity_usd: '10000', timestamp: String(Math.floor(nowSec())) });
    for (const s of HELD) await redis.client.hset(keys.marketStatePublished(s), marketStatePublished(0.15, nowSec()));
    await trackerRound(HELD, 60, 100);
    hostAheadMs = 200_000;
    await start({ HANDLERS: 'heat-gate,position-snapshot', P26_MODE: 'enforce' });
    await produce(redis.client, streams.harvestProposal, [{ plan_id: 'hot-close', symbol: 'HELD0USDT', action: 'FULL_CLOSE' }]);
    const decision = await untilStream(redis.client, streams.heatDecision, (entries) => entries.find((e) => e.plan_id === 'hot-close'), {
      what: 'the heat decision',
    });
    expect(decision).toMatchObject({ in_action: 'FULL_CLOSE', out_action: 'FULL_CLOSE', heat_level: 'hot', heat_score: '0.9' });
  });

  it('the status names an offset beyond PRICE_MAX_SKEW_SEC as DEGRADED, and shows it within the skew', async () => {
    hostAheadMs = 200_000;
    const runtime = await start({ HANDLERS: 'position-snapshot' });
    const status = (await runtime.server.inject({ method: 'GET', url: '/status' })).json<{
      headline: { state: string; reasons: { text: string }[] };
      clock: { host_ahead_ms: number; max_skew_sec: number };
    }>();
    expect(status.headline.state).toBe('DEGRADED');
    expect(status.headline.reasons.map((r) => r.text).join('\n')).toMatch(/clock is 200 s ahead of Redis's/);
    expect(status.clock.max_skew_sec).toBe(5);
    expect(Math.round(status.clock.host_ahead_ms / 1000)).toBe(200);
    // /ready stays 200: decisions read Redis's clock, so the gates make progress.
    expect((await runtime.server.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
  });
});
