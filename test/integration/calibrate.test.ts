import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { governor } from '../../handlers/governor/index.js';
import { positionIndex } from '../../handlers/positions/index-job.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { governorOutcomes } from '../../handlers/outcomes/governor-follow-up.js';
import { heatOutcomes } from '../../handlers/outcomes/heat-follow-up.js';
import { outcomeSample, outcomeSweep } from '../../handlers/outcomes/sample.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { startRuntime } from '../support/runtime.js';
import { runCli, runCliJson } from './cli-harness.js';
import { worldTime } from '../support/clock.js';
import { untilKeys, untilStream, untilStreamLength } from '../support/until.js';

const handlers = [heatGate, governor, positionIndex, heatOutcomes, governorOutcomes, outcomeSample, outcomeSweep];

const HOUR = 3_600_000;

/**
 * Issue #26, Done when: a day of synthetic traffic with known prices goes through the real heat
 * gate, governor and outcome follow-ups on a private redis-server, on a clock of the test's own
 * (the gates decide at the day's times); then `report calibrate` must give the answers worked
 * out by hand below, for two threshold grids and two cap settings, and reproduce every recorded
 * decision with the configured settings.
 *
 * The book (Position Ledger hashes, sigma from the market state publisher):
 *   BTCUSDT 0.01 × 50,000 = $500, sigma 0.02 → 10;  ETHUSDT 0.5 × 2,000 = $1,000, sigma 0.01 → 10;
 *   SOLUSDT 2 × 100 = $200, sigma 0.1 → 20.  Σ = 40, so heat = 40 / equity, shares ¼, ¼, ½.
 * Settings: the defaults (HEAT_MIN 0.25, HEAT_MAX 0.65; per trade $200, total $2,000, 10
 * positions, cooldown 60 s), P26_MODE shadow, OUTCOME_HORIZONS 1s,1d (1d never comes in the test).
 * Prices at the 1 s sample: BTC +5 %, ETH −10 %, SOL none (missing); ADA +10 %, XRP −10 %, AVAX +20 %,
 * LINK −10 %, DOGE unchanged.
 */
describe('report calibrate over a synthetic day', () => {
  // One server for the whole day: the tests below read what it recorded (usePrivateRedis would
  // flush it before each).
  let redis: TestRedis;
  let runtime: Runtime | undefined;
  let followers: Runtime | undefined;
  // The day starts now and runs ahead of real time, so every 1 s sample is due at once.
  const T0 = Math.floor(Date.now() / 1000) * 1000;
  let clock = T0;
  const at = (ms: number) => {
    clock = T0 + ms;
  };
  const iso = (ms: number) => new Date(T0 + ms).toISOString();

  async function book(): Promise<void> {
    const ts = String(Math.floor(clock / 1000));
    for (const [symbol, amt, mark] of [
      ['BTCUSDT', '0.01', '50000'],
      ['ETHUSDT', '0.5', '2000'],
      ['SOLUSDT', '2', '100'],
    ] as const) {
      await redis.client.hset(keys.p33PositionSnapshot(symbol), {
        position_amt: amt,
        side: 'LONG',
        entry_price: mark,
        mark_price: mark,
        unrealized_pnl: '0',
        leverage: '5',
        ts_epoch: ts,
        source: 'binance_testnet',
      });
    }
  }

  async function propose(id: string, ms: number, symbol: string, action: string, equity: string | null): Promise<void> {
    at(ms);
    if (equity === null) await redis.client.del(keys.portfolioState);
    else await redis.client.hset(keys.portfolioState, 'equity_usd', equity);
    await book();
    const before = await redis.client.xlen(streams.heatDecision);
    await redis.client.xadd(streams.harvestProposal, `${clock}-0`, 'plan_id', id, 'symbol', symbol, 'action', action, 'trace_id', id);
    await untilStreamLength(redis.client, streams.heatDecision, before + 1, { what: `heat decision ${id}` });
  }

  async function plan(id: string, ms: number, symbol: string, fields: Record<string, string>): Promise<void> {
    at(ms);
    await book();
    const before = await redis.client.xlen(streams.governorEvents);
    const entry = { plan_id: id, symbol, kill_score: '0.1', decision: 'EXECUTE', timestamp: String(clock / 1000), ...fields };
    await redis.client.xadd(streams.applyPlan, `${clock}-0`, ...Object.entries(entry).flat());
    await untilStreamLength(redis.client, streams.governorEvents, before + 1, { what: `governor event ${id}` });
  }

  const openLong = (qty: string, price: string) => ({ action: 'OPEN_LONG', side: 'BUY', qty, price });

  beforeAll(async () => {
    redis = await startTestRedis();
    await redis.client.hset(keys.marketStatePublished('BTCUSDT'), 'sigma', '0.02');
    await redis.client.hset(keys.marketStatePublished('ETHUSDT'), 'sigma', '0.01');
    await redis.client.hset(keys.marketStatePublished('SOLUSDT'), 'sigma', '0.1');
    for (const [symbol, mark] of [
      ['BTCUSDT', '50000'],
      ['ETHUSDT', '2000'],
      ['SOLUSDT', '100'],
      ['ADAUSDT', '1'],
      ['XRPUSDT', '0.5'],
      ['DOGEUSDT', '0.15'],
      ['LINKUSDT', '15'],
      ['AVAXUSDT', '10'],
    ] as const)
      await redis.client.hset(keys.marketState(symbol), 'mark_price', mark);
    await book();
    const env = { OUTCOME_HORIZONS: '1s,1d', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' };
    // The gates decide on the day's clock; the follow-ups run on the real one, as the entry ids
    // of the decisions they read (Redis's clock) do, so none is read late.
    runtime = await startRuntime(redis.url, { ...env, HANDLERS: 'heat-gate,governor,position-index' }, handlers, {
      ...worldTime(() => clock),
    });
    followers = await startRuntime(redis.url, { ...env, HANDLERS: 'outcome-heat,outcome-governor' }, handlers);
    // The book is the Position Ledger's hashes the position index has found.
    await untilKeys(redis.client, [keys.p33PositionIndex], async () => (await redis.client.scard(keys.p33PositionIndex)) === 3, {
      what: 'the three positions indexed',
    });

    // Heat decisions: d1…d8 (heat = 40 / equity).
    await propose('d1', 1 * HOUR, 'BTCUSDT', 'FULL_CLOSE', '200000'); // 0.0002
    await plan('g1', 2 * HOUR, 'ADAUSDT', openLong('100', '1')); // $100: permit
    await plan('g2', 2 * HOUR + 30_000, 'ADAUSDT', openLong('100', '1')); // 30 s after g1: symbol_cooldown
    await propose('d2', 3 * HOUR, 'ETHUSDT', 'FULL_CLOSE', '100000'); // 0.0004
    await propose('d3', 5 * HOUR, 'SOLUSDT', 'FULL_CLOSE', '40000'); // 0.001
    await plan('g3', 6 * HOUR, 'XRPUSDT', openLong('500', '0.5')); // $250 > $200: notional_per_trade_exceeded
    await propose('d4', 8 * HOUR, 'ETHUSDT', 'PARTIAL_50', '40000'); // 0.001, a partial: unchanged
    await plan('g4', 9 * HOUR, 'DOGEUSDT', openLong('1000', '0.15')); // $150: permit (book 1,700 + 0)
    await plan('g5', 9 * HOUR + 10_000, 'LINKUSDT', openLong('10', '15')); // $150: permit (1,700 + 150 reserved)
    await plan('g5b', 9 * HOUR + 20_000, 'AVAXUSDT', openLong('10', '10')); // 1,700 + 300 ≥ 2,000: total_notional_exceeded
    await propose('d5', 10 * HOUR, 'BTCUSDT', 'FULL_CLOSE', '20000'); // 0.002
    await propose('d6', 14 * HOUR, 'ETHUSDT', 'FULL_CLOSE', '8000'); // 0.005
    await plan('g6', 16 * HOUR, 'ADAUSDT', openLong('150', '1')); // $150: permit
    await propose('d7', 18 * HOUR, 'BTCUSDT', 'FULL_CLOSE', null); // no portfolio state: fail-closed (COLD)
    await propose('d8', 20 * HOUR, 'ETHUSDT', 'FULL_CLOSE', '200000'); // 0.0002
    await plan('g7', 21 * HOUR, 'ETHUSDT', { action: 'FULL_CLOSE_PROPOSED' }); // a close: close_bypass

    // 7 downgrades, 3 blocked opens and 4 permitted ones followed.
    await untilKeys(redis.client, [keys.outcomePending], async () => (await redis.client.zcard(keys.outcomePending)) === 14, {
      what: 'fourteen follow-ups',
    });
    await runtime.stop();
    await followers.stop();
    followers = undefined;

    // The prices at the samples, the same in every source that has the symbol.
    for (const [symbol, mark] of [
      ['BTCUSDT', '52500'],
      ['ETHUSDT', '1800'],
    ] as const) {
      await redis.client.hset(keys.marketState(symbol), 'mark_price', mark);
      await redis.client.hset(keys.p33PositionSnapshot(symbol), 'mark_price', mark, 'ts_epoch', String(Math.floor(Date.now() / 1000)));
    }
    await redis.client.del(keys.marketState('SOLUSDT'), keys.p33PositionSnapshot('SOLUSDT'));
    await redis.client.hset(keys.marketState('ADAUSDT'), 'mark_price', '1.1');
    await redis.client.hset(keys.marketState('XRPUSDT'), 'mark_price', '0.45');
    await redis.client.hset(keys.marketState('AVAXUSDT'), 'mark_price', '12');
    await redis.client.hset(keys.marketState('LINKUSDT'), 'mark_price', '13.5');
    runtime = await startRuntime(redis.url, { ...env, HANDLERS: 'outcome-sweep,outcome-sample', OUTCOME_SWEEP_SEC: '1' }, handlers);
    await untilStream(redis.client, streams.gatesOutcome, (samples) => samples.length === 14, { what: 'the fourteen 1 s samples' });
    await runtime.stop();
    runtime = undefined;
  }, 120_000);

  afterAll(async () => {
    await runtime?.stop();
    await followers?.stop();
    await redis?.stop();
  });

  const window = ['--since', iso(0), '--until', iso(24 * HOUR)];
  // The CLI reads the settings from the same environment as the service.
  const env = () => ({ REDIS_URL: redis.url, OUTCOME_HORIZONS: '1s,1d' });

  interface Pnl {
    horizon: string;
    priced: number;
    missingPrice: number;
    noSample: number;
    totalPnlUsd: number | null;
    worstExcursionUsd: number | null;
    maxDrawdownUsd: number | null;
  }
  interface Report {
    headline: string;
    horizons: string[];
    heat: {
      decisions: number;
      untrusted: number;
      min: number;
      max: number;
      mean: number;
      percentiles: Record<string, number>;
      msInBucket: Record<string, number>;
      msWithoutReading: number;
      bySymbol: { symbol: string; meanHeat: number; shareOfHeat: number }[];
      calibrationWarning: string | null;
    };
    heatWhatIf: {
      heatMin: number;
      heatMax: number;
      configured: boolean;
      fullCloses: number;
      downgraded: number;
      downgradedTo: Record<string, number>;
      changedFromRecorded: number;
      pnl: Pnl[];
    }[];
    governorWhatIf: {
      caps: string;
      opens: { permitted: number; blocked: number };
      newlyPermitted: string[];
      newlyBlocked: string[];
      blockedBy: Record<string, number>;
      pnlNewlyPermitted: Pnl[];
      pnlNewlyBlocked: Pnl[];
    }[];
    reproduction: {
      heat: { checked: number; reproduced: number; mismatches: unknown[] };
      governor: { checked: number; reproduced: number; mismatches: unknown[]; withoutInputs: number };
    };
  }

  /** The figures of one what-if row at one horizon: [priced, no price, no sample, total, worst, drawdown]. */
  const figures = (p: Pnl | undefined) =>
    p === undefined ? undefined : [p.priced, p.missingPrice, p.noSample, p.totalPnlUsd, p.worstExcursionUsd, p.maxDrawdownUsd];

  it('reports the heat as it was, with the calibration warning in the headline', async () => {
    const report = await runCliJson<Report>(['report', 'calibrate', ...window, '--heat-grid', '0.0003:0.0015'], env());
    // Trusted heats: 0.0002 (d1), 0.0004, 0.001, 0.001, 0.002, 0.005, 0.0002 (d8); d7 had none.
    // Sorted: .0002 .0002 .0004 .001 .001 .002 .005; nearest rank ⌈p·7⌉: p5 → 1st, p25 → 2nd, p50 → 4th, p75 → 6th, p95 → 7th.
    expect(report.heat).toMatchObject({ decisions: 8, untrusted: 1, min: 0.0002, max: 0.005 });
    expect(report.heat.mean).toBeCloseTo(0.0098 / 7, 12);
    expect(report.heat.percentiles).toEqual({ p5: 0.0002, p25: 0.0002, p50: 0.001, p75: 0.002, p95: 0.005 });
    // Each heat holds until the next decision or its validity (P26_HEAT_REFRESH_MS, 10 s), whichever
    // is sooner: d1-d6 10 s COLD each, d7 10 s unknown; the last, d8 at 20 h, until the traffic's
    // end (g7 at 21 h), not the window's (24 h). The hours between readings are in no bucket.
    expect(report.heat.msInBucket).toEqual({ COLD: 6 * 10_000 + HOUR, WARM: 0, HOT: 0, UNKNOWN: 10_000 });
    expect(report.heat.msWithoutReading).toBe(19 * HOUR - 7 * 10_000);
    // SOL holds half of every heat, BTC and ETH a quarter: mean heat × share.
    const by = Object.fromEntries(report.heat.bySymbol.map((s) => [s.symbol, s]));
    expect(report.heat.bySymbol.map((s) => s.symbol)).toEqual(['SOLUSDT', 'BTCUSDT', 'ETHUSDT']);
    expect(by.SOLUSDT!.shareOfHeat).toBeCloseTo(0.5, 9);
    expect(by.BTCUSDT!.shareOfHeat).toBeCloseTo(0.25, 9);
    expect(by.SOLUSDT!.meanHeat).toBeCloseTo(0.0014 / 2, 9);
    // 0.005 is 50 × below HEAT_MIN 0.25: not within a factor of 10 of either threshold.
    expect(report.headline).toBe(report.heat.calibrationWarning);
    expect(report.headline).toMatch(/never came within a factor of 10 of HEAT_MIN 0.25 or HEAT_MAX 0.65/);
    expect(report.headline).toMatch(/every full close is COLD/);
    expect(report.horizons).toEqual(['1s', '1d']);
  });

  it('the configured settings reproduce every recorded decision through the gates’ own rules', async () => {
    const report = await runCliJson<Report>(['report', 'calibrate', ...window, '--heat-grid', '0.0003:0.0015'], env());
    expect(report.reproduction.heat).toEqual({ checked: 8, reproduced: 8, mismatches: [] });
    // g1…g7: eight decisions, each recorded with its inputs.
    expect(report.reproduction.governor).toEqual({ checked: 8, reproduced: 8, mismatches: [], withoutInputs: 0 });
  });

  /*
   * Recorded: every full close COLD → PARTIAL_25, keeping ¾: BTC $375, ETH $750, SOL $150.
   * 1 s samples: BTC 375 × 5 % = +18.75; ETH 750 × −10 % = −75; SOL missing.
   * An alternative's PnL is the recorded sample × (share kept / ¾): PARTIAL_75 keeps ¼, a third of it.
   */
  it('grid 1 (0.0003:0.0015, 0.0009:0.004): downgrades, and their PnL scaled from the recorded samples', async () => {
    const report = await runCliJson<Report>(['report', 'calibrate', ...window, '--heat-grid', '0.0003:0.0015,0.0009:0.004'], env());
    expect(report.heatWhatIf.map((w) => [w.heatMin, w.heatMax, w.configured])).toEqual([
      [0.25, 0.65, true],
      [0.0003, 0.0015, false],
      [0.0009, 0.004, false],
    ]);
    const [configured, a, b] = report.heatWhatIf;
    // Configured: 7 full closes, all → PARTIAL_25: 3 × 18.75 − 3 × 75 = −168.75; in decision order
    // +18.75, −75, +18.75, −75, +18.75, −75: peak 18.75, trough −168.75 → drawdown 187.5.
    expect(configured).toMatchObject({ fullCloses: 7, downgraded: 7, downgradedTo: { PARTIAL_25: 7 }, changedFromRecorded: 0 });
    expect(figures(configured!.pnl[0])).toEqual([6, 1, 0, -168.75, -75, 187.5]);
    // 1d has not come: all seven without a sample.
    expect(figures(configured!.pnl[1])).toEqual([0, 0, 7, null, null, null]);

    // 0.0003:0.0015: d1 .0002 COLD → P25 +18.75; d2 .0004 WARM → P75 −75/3 = −25; d3 .001 WARM → P75 (missing);
    // d5 .002, d6 .005 HOT: kept; d7 fail-closed COLD → P25 +18.75; d8 .0002 COLD → P25 −75.
    // Total −62.5; running sum 18.75, −6.25, 12.5, −62.5 → drawdown 18.75 + 62.5 = 81.25.
    expect(a).toMatchObject({ fullCloses: 7, downgraded: 5, downgradedTo: { PARTIAL_25: 3, PARTIAL_75: 2 }, changedFromRecorded: 4 });
    expect(figures(a!.pnl[0])).toEqual([4, 1, 0, -62.5, -75, 81.25]);

    // 0.0009:0.004: d1, d2, d7, d8 COLD → P25 (+18.75, −75, +18.75, −75); d3 WARM (missing); d5 .002 WARM → P75
    // +6.25; d6 HOT. Total −106.25; running sum 18.75, −56.25, −50, −31.25, −106.25 → drawdown 125.
    expect(b).toMatchObject({ downgraded: 6, downgradedTo: { PARTIAL_25: 4, PARTIAL_75: 2 }, changedFromRecorded: 3 });
    expect(figures(b!.pnl[0])).toEqual([5, 1, 0, -106.25, -75, 125]);
  });

  /*
   * Proposals (issue #40 item 5) from the six full closes with a heat, sorted .0002 .0002 .0004 .001 .002 .005:
   * COLD ½ / HOT ⅒: 3 below HEAT_MIN (halfway .0004-.001: .0007), round(0.6) = 1 at or above HEAT_MAX (halfway .002-.005: .0035 → .004).
   * COLD ¼ / HOT ¼: round(1.5) = 2 below (.0003), 2 at or above (.0015 → .002, HOT ≥ .002: d5, d6).
   * COLD ¾ / HOT 1/20: round(4.5) = 5 below (halfway .002-.005: .0035 → .004), 0 above (past .005: .0075 → .007).
   */
  it('proposes threshold pairs from the recorded heat and prices each as any other pair', async () => {
    const report = await runCliJson<
      Report & { heatProposals: { proposal: { min: number; max: number; rule: string }; whatIf: Report['heatWhatIf'][number] }[] }
    >(['report', 'calibrate', ...window, '--heat-grid', '0.0003:0.0015'], env());
    expect(report.heatProposals.map((p) => [p.proposal.min, p.proposal.max, p.proposal.rule])).toEqual([
      [0.0007, 0.004, 'COLD 50 % / WARM 40 % / HOT 10 % of 6 full closes'],
      [0.0003, 0.002, 'COLD 25 % / WARM 50 % / HOT 25 % of 6 full closes'],
      [0.004, 0.007, 'COLD 75 % / WARM 20 % / HOT 5 % of 6 full closes'],
    ]);
    const [half, quarter, most] = report.heatProposals.map((p) => p.whatIf);
    // .0007:.004: d1, d2, d7, d8 COLD → P25 (+18.75, −75, +18.75, −75); d3, d5 WARM → P75 (missing, +6.25); d6 HOT.
    expect(half).toMatchObject({ downgraded: 6, downgradedTo: { PARTIAL_25: 4, PARTIAL_75: 2 } });
    expect(figures(half!.pnl[0])).toEqual([5, 1, 0, -106.25, -75, 125]);
    // .0003:.002: d1, d7, d8 COLD; d2, d3 WARM (−25, missing); d5, d6 HOT: 18.75 − 25 + 18.75 − 75.
    expect(quarter).toMatchObject({ downgraded: 5, downgradedTo: { PARTIAL_25: 3, PARTIAL_75: 2 } });
    expect(figures(quarter!.pnl[0])).toEqual([4, 1, 0, -62.5, -75, 81.25]);
    // .004:.007: all COLD but d6 .005 WARM → P75 −25.
    expect(most).toMatchObject({ downgraded: 7, downgradedTo: { PARTIAL_25: 6, PARTIAL_75: 1 } });
    expect(figures(most!.pnl[0])).toEqual([6, 1, 0, -118.75, -75, 137.5]);
  });

  it('grid 2 (0.0001:0.0003, 0.003:0.01)', async () => {
    const report = await runCliJson<Report>(['report', 'calibrate', ...window, '--heat-grid', '0.0001:0.0003,0.003:0.01'], env());
    const [, a, b] = report.heatWhatIf;
    // 0.0001:0.0003: d1 .0002 WARM → P75 +6.25; d2, d3, d5, d6 HOT; d7 COLD → P25 +18.75; d8 WARM → P75 −25.
    // Total 0; running sum 6.25, 25, 0 → drawdown 25; worst −25.
    expect(a).toMatchObject({ heatMin: 0.0001, heatMax: 0.0003, downgraded: 3, downgradedTo: { PARTIAL_75: 2, PARTIAL_25: 1 } });
    expect(a!.changedFromRecorded).toBe(6);
    expect(figures(a!.pnl[0])).toEqual([3, 0, 0, 0, -25, 25]);
    // 0.003:0.01: all COLD but d6 .005 WARM → P75 −25. Total 3 × 18.75 − 2 × 75 − 25 = −118.75;
    // running sum 18.75, −56.25, −37.5, −62.5, −43.75, −118.75 → drawdown 137.5.
    expect(b).toMatchObject({ downgraded: 7, downgradedTo: { PARTIAL_25: 6, PARTIAL_75: 1 }, changedFromRecorded: 1 });
    expect(figures(b!.pnl[0])).toEqual([6, 1, 0, -118.75, -75, 137.5]);
  });

  /*
   * Blocked opens followed (exposure −notional, long): g2 ADA −$100 × 10 % = −10; g3 XRP −$250 × −10 % = +25;
   * g5b AVAX −$100 × 20 % = −20. Permitting a blocked open takes its sample back: −pnl. Permitted
   * opens followed as the open's own PnL: g1 ADA +10, g4 DOGE 0, g5 LINK −15, g6 ADA +15.
   */
  it('two cap settings: which opens would have been permitted or blocked, and the PnL of the difference', async () => {
    const report = await runCliJson<Report>(
      [
        'report',
        'calibrate',
        ...window,
        '--heat-grid',
        '0.0003:0.0015',
        '--caps',
        'per_trade=300,cooldown=20',
        '--caps',
        'total=1800,positions=4',
      ],
      env(),
    );
    const [configured, looser, tighter] = report.governorWhatIf;
    expect(configured).toMatchObject({
      caps: 'configured',
      opens: { permitted: 4, blocked: 3 },
      newlyPermitted: [],
      newlyBlocked: [],
      blockedBy: { symbol_cooldown: 1, notional_per_trade_exceeded: 1, total_notional_exceeded: 1 },
    });
    // per_trade 300, cooldown 20: g2 (30 s after g1) and g3 ($250) pass; g5b still meets the total cap.
    // Their PnL: +10 (g2) − 25 (g3) = −15; worst −25; running sum 10, −15 → drawdown 25.
    expect(looser).toMatchObject({
      caps: 'per_trade=300,cooldown=20',
      opens: { permitted: 6, blocked: 1 },
      newlyPermitted: ['g2', 'g3'],
      newlyBlocked: [],
      blockedBy: { total_notional_exceeded: 1 },
    });
    expect(figures(looser!.pnlNewlyPermitted[0])).toEqual([2, 0, 0, -15, -25, 25]);
    // total 1,800, 4 positions: g1 (3 open + 0 reserved) and g4 pass; g5 meets 3 + 1 reserved slot (DOGE) ≥ 4,
    // g5b 3 + 2; g6 passes (book 1,700 < 1,800). g5, permitted, was followed as a permit: the LINK open
    // made $150 × −10 % = −$15, which blocking it would have avoided: +15.
    expect(tighter).toMatchObject({
      caps: 'total=1800,positions=4',
      opens: { permitted: 3, blocked: 4 },
      newlyPermitted: [],
      newlyBlocked: ['g5'],
      blockedBy: { symbol_cooldown: 1, notional_per_trade_exceeded: 1, max_positions_reached: 2 },
    });
    expect(figures(tighter!.pnlNewlyBlocked[0])).toEqual([1, 0, 0, 15, 15, 0]);
    expect(figures(tighter!.pnlNewlyBlocked[1])).toEqual([0, 0, 1, null, null, null]);
  });

  it('is the worked example of docs/outcomes.md', async () => {
    const args = [
      'report',
      'calibrate',
      ...window,
      '--heat-grid',
      '0.0003:0.0015,0.0009:0.004',
      '--caps',
      'per_trade=300,cooldown=20',
      '--caps',
      'total=1800,positions=4',
    ];
    const text = await runCli(args, env());
    expect(text.code).toBe(0);
    // The first line names the window, which is the test's own day: the rest is the example.
    const body = text.stdout.split('\n').slice(1).join('\n');
    if (process.env.PRINT_EXAMPLE === '1') console.log(`EXAMPLE\n${body}EXAMPLE`);
    const docs = readFileSync(resolve(import.meta.dirname, '../../docs/outcomes.md'), 'utf8');
    const block = /<!-- calibrate-example -->\n```text\n[^\n]*\n([\s\S]*?)```/.exec(docs);
    expect(block, 'docs/outcomes.md has the example after <!-- calibrate-example -->').not.toBeNull();
    expect(block![1]).toBe(body);
  });

  it('draws a chart per alternative in its HTML output (issue #40 item 4), as a browser renders it', async () => {
    const html = await runCli(
      ['report', 'calibrate', ...window, '--heat-grid', '0.0003:0.0015', '--caps', 'per_trade=300,cooldown=20', '--html'],
      env(),
    );
    expect(html.code).toBe(0);
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      await page.setContent(html.stdout);
      const charts = (await page.evaluate(`[...document.querySelectorAll('figure')].map((f) => ({
        id: f.id,
        caption: f.querySelector('figcaption').textContent,
        lines: [...f.querySelectorAll('path.pnl')].map((p) => ({ horizon: p.getAttribute('data-horizon'), width: p.getBoundingClientRect().width })),
        empty: f.querySelector('.empty') !== null,
      }))`)) as { id: string; caption: string; lines: { horizon: string; width: number }[]; empty: boolean }[];
      // Two threshold pairs, three proposals, the looser caps' newly permitted opens.
      expect(charts.map((c) => c.id)).toEqual(['heat-0', 'heat-1', 'proposal-0', 'proposal-1', 'proposal-2', 'caps-1-permitted']);
      // Each has a line for the 1 s horizon (priced), none for 1d (nothing sampled yet), drawn across the chart.
      for (const c of charts) {
        expect(c.lines.map((l) => l.horizon)).toEqual(['1s']);
        expect(c.lines[0]!.width).toBeGreaterThan(100);
      }
      expect(charts[0]!.caption).toBe('HEAT_MIN 0.25 HEAT_MAX 0.65 (configured): 7 of 7 full closes downgraded');
    } finally {
      await browser.close();
    }
  });

  it('gives the same figures as text and CSV', async () => {
    const text = await runCli(['report', 'calibrate', ...window, '--heat-grid', '0.0003:0.0015'], env());
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^headline: calibration: the heat of 7 decisions \(0.0002 to 0.005\) never came within a factor of 10/m);
    expect(text.stdout).toMatch(/HEAT_MIN 0.0003 HEAT_MAX 0.0015: 5 of 7 full closes downgraded \(3 → PARTIAL_25, 2 → PARTIAL_75\)/);
    // Per unit of exposure kept: 375 (d1) + 250 (d2, ¼ of ETH's 1,000) + 375 (d7) + 750 (d8) = 1,750: −62.5 / 1,750 = −357.1 bps; 2 of 4 made money.
    expect(text.stdout).toMatch(
      /1s: 4 priced, 1 no price, 0 no sample; total -\$62.50 \(-357.1 bps\), hit rate 50 %, worst -\$75.00, drawdown \$81.25/,
    );
    expect(text.stdout).toMatch(/Reproduction with the configured settings: heat 8\/8, governor 8\/8/);
    const csv = await runCli(['report', 'calibrate', ...window, '--heat-grid', '0.0003:0.0015', '--csv'], env());
    expect(csv.code).toBe(0);
    const rows = csv.stdout.trim().split('\n');
    expect(rows[0]).toBe('section,group,metric,value');
    expect(rows).toContain('heat_what_if,0.0003:0.0015,1s total_pnl_usd,-62.5');
    expect(rows).toContain('heat_what_if,0.0003:0.0015,1s pnl_bps,-357.1');
    expect(rows).toContain('heat_what_if,0.0003:0.0015,1s hit_rate,0.5');
    expect(rows).toContain('heat,all,p50,0.001');
    expect(rows).toContain('reproduction,governor,reproduced,8');
  });
});
