/**
 * Issue #40 item 5 on the real pipeline: the heat both eras' producers give when the market state
 * publisher writes the per-bar sigma it really computes (ai_engine/market_state.py at 73fab1f55:
 * the standard deviation of 1-minute log returns, a few thousandths), what `report calibrate`
 * proposes from it, and the gate saying, from its first refreshes, that enforce runs on thresholds
 * the heat never reaches (quantum_heat_gate_thresholds_unreached, the alert's input).
 *
 * Every write goes through a producer fixture (test/pipeline/producers/, each citing the upstream
 * code it copies): P3.3's positions (and at the newest era the price feed and balance tracker), the
 * portfolio state publisher's equity, the market state publisher's sigma and the Harvest Kernel's
 * proposals. Eight rounds of two kernel full closes, the equity falling from $20,000 to $5,000
 * between rounds (a drawdown), so the heat varies as a real book's does.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { streams } from '../../schemas/keys.js';
import { runCli } from '../integration/cli-harness.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime, metricSum, waitFor } from '../support/runtime.js';
import { untilStreamLength } from '../support/until.js';
import { publishHarvestProposal } from './producers/harvest-proposal-publisher.js';
import { writeMarketState } from './producers/market-state-publisher.js';
import { writePortfolioState } from './producers/portfolio-state-publisher.js';
import { eras, type Era } from './producers/upstream.js';
import { kernelProposal, open, producersPass } from './traffic.js';

/** Per-bar sigma as the market state publisher writes it for 1-minute candles (docs/heat-gate.md cites the lines). */
const perBarSigma: Record<string, number> = { BTCUSDT: 0.003, ETHUSDT: 0.004, SOLUSDT: 0.006, DOGEUSDT: 0.007 };
const EQUITIES = [20_000, 16_000, 13_000, 11_000, 9_000, 7_500, 6_000, 5_000];
/** Σ |qty × mark| × sigma over the open positions: 570 × .003 + 640 × .004 + 300 × .006 + 150 × .007 = 7.12. */
const risk = open.reduce((sum, p) => sum + Math.abs(p.positionAmt * p.markPrice) * perBarSigma[p.symbol]!, 0);

interface WhatIf {
  heatMin: number;
  heatMax: number;
  fullCloses: number;
  downgraded: number;
  downgradedTo: Record<string, number>;
}
interface Report {
  headline: string;
  heat: { decisions: number; min: number; max: number };
  heatWhatIf: WhatIf[];
  heatProposals: { proposal: { min: number; max: number; rule: string }; whatIf: WhatIf }[];
}

describe.each(eras)('thresholds on the real heat scale, %s era, enforce mode', (era: Era) => {
  let redis: TestRedis;
  let r: Redis;
  let runtime: Runtime;
  let unreachedAtStart = 0;

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client;
    await producersPass(r, era, Date.now());
    for (const [symbol, sigma] of Object.entries(perBarSigma)) await writeMarketState(r, symbol, { sigma }, Date.now());
    runtime = await createTestRuntime(
      redis.url,
      { HANDLERS: 'heat-gate,position-index', P26_MODE: 'enforce', P26_APPLY_LAYER_ERA: era, P26_HEAT_REFRESH_MS: '1000' },
      allHandlers,
    );
    await runtime.start();
    unreachedAtStart = await waitFor(async () => (await metricSum(runtime, 'quantum_heat_gate_thresholds_unreached')) || undefined, {
      what: 'quantum_heat_gate_thresholds_unreached 1',
      timeoutMs: 20_000,
    });
    for (const [round, equityUsd] of EQUITIES.entries()) {
      const now = Date.now();
      await producersPass(r, era, now);
      await writePortfolioState(
        r,
        {
          equityUsd,
          positionsNotionalUsd: open.reduce((s, p) => s + Math.abs(p.positionAmt * p.markPrice), 0),
          positionsCount: open.length,
          unrealizedPnlUsd: open.reduce((s, p) => s + p.unRealizedProfit, 0),
        },
        now,
      );
      for (const symbol of ['BTCUSDT', 'ETHUSDT'])
        await publishHarvestProposal(r, symbol, kernelProposal(symbol, 'FULL_CLOSE_PROPOSED', 0.7 + round / 100), now);
      await untilStreamLength(r, streams.heatDecision, 2 * (round + 1), { what: `round ${round}'s two decisions`, timeoutMs: 20_000 });
    }
  }, 180_000);

  afterAll(async () => {
    await runtime?.stop();
    await redis?.stop();
  });

  const calibrate = async (): Promise<Report> => {
    const result = await runCli(['report', 'calibrate', '--since', '1h', '--json'], { REDIS_URL: redis.url, P26_APPLY_LAYER_ERA: era });
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as Report;
  };

  it('gives heat of a few ten-thousandths, which never reaches HEAT_MIN 0.25: every full close lands in one bucket', async () => {
    const report = await calibrate();
    expect(report.heat.decisions).toBe(16);
    expect(report.heat.min).toBeCloseTo(risk / 20_000, 12);
    expect(report.heat.max).toBeCloseTo(risk / 5_000, 12);
    expect(report.headline).toMatch(/never came within a factor of 10 of HEAT_MIN 0\.25 .*every full close is COLD/);
    const [configured] = report.heatWhatIf;
    const cold = era === 'newest' ? 'PARTIAL_25' : 'PARTIAL_50';
    expect(configured).toMatchObject({ heatMin: 0.25, heatMax: 0.65, fullCloses: 16, downgraded: 16, downgradedTo: { [cold]: 16 } });
  });

  it('proposes threshold pairs on the heat’s own scale that split the full closes into COLD, WARM and HOT', async () => {
    const { heatProposals, heat } = await calibrate();
    // Sixteen heats, eight distinct (two closes a round): ties make the shares come out in pairs.
    expect(heatProposals.map((p) => p.proposal.rule)).toEqual([
      'COLD 50 % / WARM 40 % / HOT 10 % of 16 full closes',
      'COLD 25 % / WARM 50 % / HOT 25 % of 16 full closes',
      'COLD 75 % / WARM 20 % / HOT 5 % of 16 full closes',
    ]);
    // Heats 7.12 / equity, each twice: .000356 .000445 .000548 .000647 | .000791 .000949 .00119 .001424.
    // ½ COLD: halfway .000647-.000791 → .0007; ⅒ HOT: 2 at or above halfway .00119-.001424 → .0013.
    // ¼ / ¼: .0005 (halfway .000445-.000548) and .001 (halfway .000949-.00119).
    // ¾ / 1⁄20: .001; round(0.8) = 1 HOT cuts through the tied pair at .001424: both HOT, at the
    // heat proposed to the three significant digits the data can tell (.00142).
    expect(heatProposals.map((p) => [p.proposal.min, p.proposal.max])).toEqual([
      [0.0007, 0.0013],
      [0.0005, 0.001],
      [0.001, Number((risk / 5_000).toPrecision(3))],
    ]);
    for (const { proposal, whatIf } of heatProposals) {
      expect(proposal.min).toBeGreaterThan(heat.min);
      expect(proposal.max).toBeLessThanOrEqual(heat.max * 2);
      // COLD ones downgraded to the era's partial, WARM ones to PARTIAL_75, HOT ones kept.
      expect(whatIf.downgradedTo.PARTIAL_75).toBeGreaterThan(0);
      expect(whatIf.fullCloses - whatIf.downgraded).toBeGreaterThan(0);
      expect(whatIf.downgraded - whatIf.downgradedTo.PARTIAL_75!).toBeGreaterThan(0);
    }
  });

  it('says from its first refreshes that enforce runs on thresholds the heat never reaches (the alert’s input)', async () => {
    expect(unreachedAtStart).toBe(1);
    expect(await metricSum(runtime, 'p26_enforce_mode')).toBe(1);
    expect(await metricSum(runtime, 'quantum_heat_gate_thresholds_unreached')).toBe(1);
  });
});
