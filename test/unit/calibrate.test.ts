import { describe, expect, it } from 'vitest';
import { calibrationWarning, nearestRank } from '../../domain/heat-calibration.js';
import { portfolioHeat } from '../../domain/heat.js';
import { limitsOf, parseGovernorConfig, type Limits } from '../../handlers/governor/config.js';
import { decodeDecisionInputs, encodeDecisionInputs } from '../../handlers/governor/decision-inputs.js';
import { evaluate } from '../../handlers/governor/gates.js';
import type { PlanFacts } from '../../handlers/governor/plan.js';
import type { GovernorSnapshot } from '../../handlers/governor/snapshot.js';
import { calibrationSection, calibrationStatus } from '../../handlers/heat-gate/calibration-status.js';
import { bySymbol } from '../../handlers/heat-gate/outputs.js';
import { statusHeadline } from '../../app/http/status/status-headline.js';
import { DEBUG_JSON_MAX } from '../../schemas/heat-gate.js';
import type { Outcome } from '../../schemas/outcome.js';
import {
  heatDecisionRecord,
  heatDistribution,
  heatSamplesById,
  heatWhatIf,
  parseHeatGrid,
  type HeatDecisionRecord,
} from '../../cli/report/calibrate-heat.js';
import { debugJson, type DecisionFacts } from '../../handlers/heat-gate/outputs.js';
import { decisionRecordFields } from '../../handlers/heat-gate/decision-record.js';
import { parseCapSetting } from '../../cli/report/calibrate-governor.js';
import { cutAt, noProposalReason, proposeHeatThresholds } from '../../cli/report/calibrate-proposals.js';

const configured = { min: 0.25, max: 0.65 };

describe('the calibration warning', () => {
  it.each([
    ['heat 0.0006 against 0.25 / 0.65 (the issue’s measurement)', [0.0006, 0.0004], true],
    ['a heat within a factor of 10 of HEAT_MIN', [0.0006, 0.03], false],
    ['a heat within a factor of 10 of HEAT_MAX', [6], false],
    ['every heat 50 × above HEAT_MAX', [40, 80], true],
    ['heats of 0 only (no sigma): says nothing of scale', [0, 0], false],
    ['no decisions', [], false],
  ])('%s', (_name, heats, warns) => {
    expect(calibrationWarning(heats, configured) !== null).toBe(warns);
  });

  it('names the range and the bucket every full close lands in', () => {
    expect(calibrationWarning([0.0006, 0.0004, 0], configured)).toBe(
      'calibration: the heat of 2 decisions (0.0004 to 0.0006) never came within a factor of 10 of HEAT_MIN 0.25 or HEAT_MAX 0.65; ' +
        'thresholds and data are on different scales (below HEAT_MIN: every full close is COLD)',
    );
  });

  it('takes percentiles by nearest rank', () => {
    expect(nearestRank([1, 2, 3, 4], 0.5)).toBe(2);
    expect(nearestRank([1, 2, 3, 4], 0.95)).toBe(4);
    expect(nearestRank([1, 2, 3, 4], 0.05)).toBe(1);
    expect(nearestRank([], 0.5)).toBeNull();
  });
});

describe('each symbol’s share of the heat', () => {
  it('sums to the heat, one share per counted position', () => {
    const heat = portfolioHeat(
      [
        { symbol: 'BTCUSDT', notionalUsd: -500, sigma: 0.02 },
        { symbol: 'ETHUSDT', notionalUsd: 1000, sigma: 0.01 },
        { symbol: 'XRPUSDT', notionalUsd: 50, sigma: undefined },
      ],
      10_000,
    );
    expect(heat.contributions).toEqual([
      { symbol: 'BTCUSDT', heat: 0.001 },
      { symbol: 'ETHUSDT', heat: 0.001 },
    ]);
    expect(heat.heat).toBe(0.002);
  });

  it('names the largest shares that fit in debug_json and sums the rest', () => {
    const contributions = Array.from({ length: 200 }, (_, i) => ({ symbol: `SYM${String(i).padStart(3, '0')}USDT`, heat: (i + 1) / 1e6 }));
    const out = bySymbol(contributions, 300);
    const named = Object.keys(out.by_symbol!);
    expect(named.length).toBeGreaterThan(5);
    expect(named[0]).toBe('SYM199USDT');
    expect(JSON.stringify(out).length).toBeLessThanOrEqual(300);
    const total = contributions.reduce((s, c) => s + c.heat, 0);
    const shown = Object.values(out.by_symbol!).reduce((s, v) => s + v, 0) + out.by_symbol_others!;
    expect(shown).toBeCloseTo(total, 6);
    expect(300).toBeLessThan(DEBUG_JSON_MAX);
  });
});

describe('report calibrate attributes the whole heat (issue #40 item 1)', () => {
  it('on a downgrade whose debug_json has no room left, from heat_by_symbol: no "(others)", shares summing to 1', () => {
    // An upstream-shaped book: 12 symbols, the market state publisher's per-bar sigma, $12,000 of equity.
    const positions = Array.from({ length: 12 }, (_, i) => ({
      symbol: `S${String(i).padStart(2, '0')}XUSDT`,
      notionalUsd: 150 + 10 * i,
      sigma: 0.003 + i * 0.0003,
    }));
    const heat = portfolioHeat(positions, 12_000);
    const assessment = { trusted: true as const, ...heat };
    const facts: DecisionFacts = {
      traceId: 'a2c6d6ba-6c64-4c8f-9a55-b2f0b8a3d1c4',
      planId: '3f1a9c0e5b7d2a44',
      symbol: 'S00XUSDT',
      action: 'FULL_CLOSE',
      bucket: 'COLD',
      assessment,
      calibration: { calibratedAction: 'PARTIAL_25', downgraded: true, reason: 'portfolio_heat_cold', recommendedPartial: 0.25 },
      mode: 'shadow',
      nowMs: 1_795_000_000_123,
      heatMin: 0.25,
      heatMax: 0.65,
      sourceId: '1795000000120-0',
      atDecision: { mark: { price: 2013.37, source: 'ticker', asOfMs: 1_795_000_000_001, ageMs: 122 }, positionUsd: 150 },
    };
    const debug = debugJson(facts);
    const fields = {
      symbol: 'S00XUSDT',
      in_action: 'FULL_CLOSE',
      out_action: 'PARTIAL_25',
      heat_level: 'cold',
      ts_epoch: '1795000000',
      debug_json: debug,
    };
    // Without the field (a decision recorded before it): most of the heat under "(others)".
    const before = heatDistribution([heatDecisionRecord('1795000000120-0', fields)!], configured, 1_795_000_100_000);
    expect(before.bySymbol.find((s) => s.symbol === '(others)')?.shareOfHeat ?? 0).toBeGreaterThan(0.3);
    const record = heatDecisionRecord('1795000000120-0', { ...fields, ...decisionRecordFields(assessment, facts.nowMs) })!;
    expect(record.at).toBe(1_795_000_000_123);
    const after = heatDistribution([record], configured, 1_795_000_100_000);
    expect(after.bySymbol.map((s) => s.symbol)).not.toContain('(others)');
    expect(after.bySymbol).toHaveLength(12);
    expect(after.bySymbol.reduce((sum, s) => sum + s.shareOfHeat, 0)).toBeCloseTo(1, 12);
    const s11 = after.bySymbol.find((s) => s.symbol === 'S11XUSDT')!;
    expect(s11.shareOfHeat).toBeCloseTo((260 * 0.0063) / 12_000 / heat.heat, 12);
  });
});

describe('thresholds proposed from the record (issue #40 item 5)', () => {
  const record = (i: number, heat: number | undefined, inAction = 'FULL_CLOSE'): HeatDecisionRecord => ({
    id: `${i}-0`,
    at: i,
    symbol: 'BTCUSDT',
    planId: `p${i}`,
    inAction,
    outAction: 'PARTIAL_25',
    mode: 'shadow',
    heat,
    bySymbol: {},
  });

  it('cuts halfway between two heats at the fewest digits that stay between them', () => {
    expect(cutAt([0.0002, 0.0004, 0.001], 1)).toBe(0.0003);
    expect(cutAt([0.00058, 0.00061], 1)).toBe(0.0006);
    expect(cutAt([0.000581, 0.000583], 1)).toBe(0.000582);
    // Nothing below the smallest, everything below a cut past the largest.
    expect(cutAt([0.0004, 0.001], 0)).toBe(0.0002);
    expect(cutAt([0.0004, 0.001], 2)).toBe(0.002);
  });

  it('places HEAT_MIN and HEAT_MAX so the stated shares of the full closes are COLD and HOT', () => {
    // Twenty full closes at 0.0001 … 0.0020, a partial and a fail-closed close that do not count.
    const records = [
      ...Array.from({ length: 20 }, (_, i) => record(i, (i + 1) / 10_000)),
      record(20, 0.5, 'PARTIAL_50'),
      record(21, undefined),
    ];
    const proposals = proposeHeatThresholds(records);
    // 50/10: 10 heats below 0.0011 (halfway to 0.0011 from 0.0010), 2 at or above 0.0019.
    expect(proposals.map((p) => [p.min, p.max, p.rule])).toEqual([
      [0.0011, 0.0019, 'COLD 50 % / WARM 40 % / HOT 10 % of 20 full closes'],
      [0.00055, 0.0016, 'COLD 25 % / WARM 50 % / HOT 25 % of 20 full closes'],
      [0.0016, 0.002, 'COLD 75 % / WARM 20 % / HOT 5 % of 20 full closes'],
    ]);
    const heats = records.slice(0, 20).map((r) => r.heat!);
    for (const p of proposals) {
      expect(heats.filter((h) => h < p.min).length / 20).toBe(p.aimed.cold);
      expect(heats.filter((h) => h >= p.max).length / 20).toBe(p.aimed.hot);
    }
  });

  it('proposes nothing from fewer than 4 full closes with a heat', () => {
    const three = [record(1, 0.001), record(2, 0.002), record(3, 0.003)];
    expect(proposeHeatThresholds(three)).toEqual([]);
    expect(noProposalReason(three)).toBe('3 full closes with a heat in the window, fewer than 4');
  });

  it('says why it proposes nothing from 20 full closes at one heat, rather than "fewer than 4"', () => {
    const same = Array.from({ length: 20 }, (_, i) => record(i, 0.00010701983231728977));
    expect(proposeHeatThresholds(same)).toEqual([]);
    expect(noProposalReason(same)).toBe(
      'the 20 full closes with a heat have one heat: no pair of thresholds splits them in the stated shares',
    );
  });

  it('gives thresholds at three significant digits at most, with their spread over random halves of the record', () => {
    // Heats that differ only past the tenth digit: the old cut kept 17 digits to stay between them.
    const heats = Array.from({ length: 40 }, (_, i) => 0.000107019832 + i * 1e-15 + (i >= 20 ? 0.0004 * (i - 19) : 0));
    expect(cutAt(heats, 5)).toBe(0.000107);
    const proposals = proposeHeatThresholds(heats.map((h, i) => record(i, h)));
    expect(proposals.length).toBeGreaterThan(0);
    for (const p of proposals) {
      for (const v of [p.min, p.max])
        expect(
          String(v)
            .replace(/^0\.0*/, '')
            .replace('.', '').length,
        ).toBeLessThanOrEqual(3);
      // The halves' spread brackets the proposal, at two digits.
      expect(p.spread.min[0]).toBeLessThanOrEqual(p.spread.min[1]);
      expect(p.spread.max[0]).toBeLessThanOrEqual(p.spread.max[1]);
      expect(p.spread.max[1]).toBeGreaterThan(p.spread.min[0]);
    }
    // Reproducible: a seeded generator draws the halves.
    expect(proposeHeatThresholds(heats.map((h, i) => record(i, h)))).toEqual(proposals);
  });
});

describe('time in bucket', () => {
  const reading = (id: string, at: number, heat: number): HeatDecisionRecord => ({
    id,
    at,
    symbol: 'BTCUSDT',
    planId: id,
    inAction: 'FULL_CLOSE',
    outAction: 'FULL_CLOSE',
    mode: 'shadow',
    heat,
    bySymbol: {},
  });

  it('counts a reading for its validity at most: an 8 h pause is in no bucket', () => {
    const HOUR = 3_600_000;
    const d = heatDistribution([reading('1', 0, 0.1), reading('2', 8 * HOUR, 0.9)], configured, 9 * HOUR, {
      trafficEnd: 8 * HOUR,
      validityMs: 10_000,
    });
    expect(d.msInBucket).toEqual({ COLD: 10_000, WARM: 0, HOT: 10_000, UNKNOWN: 0 });
    expect(d.msWithoutReading).toBe(8 * HOUR - 10_000);
  });
});

describe('the governor’s recorded decision inputs', () => {
  const testnet: Limits = limitsOf(parseGovernorConfig({}));
  const open: PlanFacts = {
    planId: 'p-1',
    symbol: 'BTCUSDT',
    action: 'OPEN_LONG',
    side: 'BUY',
    isClose: false,
    killScore: 0.1,
    age: { kind: 'age', ageSec: 1, entryAgeSec: 1 },
    ageSec: 1,
    pricing: { kind: 'priced', qty: 0.002, markPrice: 100_000, notional: 200 },
    qty: 0.002,
    notional: 200,
  };
  const snapshot: GovernorSnapshot = {
    now: 1_800_000_000_000,
    killSwitch: false,
    disarmed: false,
    disarmedToday: false,
    lastExecSec: 1_799_999_970,
    execHistory: { type: 'list', times: [1_799_999_970] },
    execLastHour: 1,
    execLast5Min: 1,
    openPositions: 3,
    totalNotional: 1700.5,
    reservations: 1,
    reservedPositions: 1,
    reservedNotional: 150,
    oldestReservationAt: 1_799_999_990_000,
    exitLockHolder: null,
    symbolNotional: 0,
    ownPosition: undefined,
    markPrice: 100_000,
    budget: { budgetUsd: 900, mode: 'enforce', updatedAtMs: 1_799_999_995_000 },
    recentViolation: false,
    dailyTotal: 0,
    dailyKey: 'k',
  };

  it('decide again as recorded, under the configured limits and others', () => {
    const decoded = decodeDecisionInputs(encodeDecisionInputs(open, snapshot), 'BTCUSDT')!;
    expect(decoded.facts).toEqual(open);
    // 30 s since the last execution: the 60 s cooldown blocks, as at decision time.
    expect(evaluate(decoded.facts, testnet, decoded.snapshot)).toEqual(evaluate(open, testnet, snapshot));
    expect(evaluate(decoded.facts, testnet, decoded.snapshot)).toMatchObject({ reason: 'symbol_cooldown' });
    for (const limits of [
      { ...testnet, cooldownSec: 20 },
      { ...testnet, cooldownSec: 20, maxTotalNotional: 1800 },
      { ...testnet, cooldownSec: 0, maxOpenPositions: 4 },
      { ...testnet, applyMode: 'production' as const, p28BlockOverBudget: true },
    ])
      expect(evaluate(decoded.facts, limits, decoded.snapshot)).toEqual(evaluate(open, limits, snapshot));
  });

  it('carry an evicting Redis (issue #59): an open blocked redis_may_evict is decided again as blocked under any limits', () => {
    const evicting = { ...snapshot, lastExecSec: undefined, redisMayEvict: 'volatile-ttl' };
    const encoded = encodeDecisionInputs(open, evicting);
    expect(JSON.parse(encoded)).toMatchObject({ snap: { may_evict: 'volatile-ttl' } });
    expect(JSON.parse(encodeDecisionInputs(open, snapshot)).snap).not.toHaveProperty('may_evict');
    const decoded = decodeDecisionInputs(encoded, 'BTCUSDT')!;
    for (const limits of [testnet, { ...testnet, maxOpenPositions: 0, maxTotalNotional: 0 }])
      expect(evaluate(decoded.facts, limits, decoded.snapshot)).toEqual({ kind: 'block', reason: 'redis_may_evict' });
  });

  it('are absent or unreadable: undefined, never a guess', () => {
    expect(decodeDecisionInputs(undefined, 'X')).toBeUndefined();
    expect(decodeDecisionInputs('{"v":2}', 'X')).toBeUndefined();
    expect(decodeDecisionInputs('not json', 'X')).toBeUndefined();
  });
});

describe('the heat what-if', () => {
  const record = (id: string, heat: number | undefined, outAction: string): HeatDecisionRecord => ({
    id,
    at: Number.parseInt(id, 10),
    symbol: 'ETHUSDT',
    planId: id,
    inAction: 'FULL_CLOSE',
    outAction,
    mode: 'shadow',
    heat,
    bySymbol: {},
  });
  const sample = (id: string, pnl: number | undefined): Outcome => ({
    decision_id: `heat:${id}`,
    kind: 'heat_downgrade',
    symbol: 'ETHUSDT',
    plan_id: id,
    bucket: 'WARM',
    mode: 'shadow',
    proposed_action: 'FULL_CLOSE',
    decided_action: 'PARTIAL_75',
    horizon: '5m',
    horizon_sec: 300,
    decided_at: 1,
    sampled_at: 2,
    exposure_usd: 250,
    entry_price: 100,
    price: pnl === undefined ? undefined : 100,
    pnl_usd: pnl,
    worst_pnl_usd: pnl,
  });

  it('scales a recorded sample by the share kept, and counts what it cannot price', () => {
    // Recorded at 0.25 / 0.65: 1-0 WARM → PARTIAL_75 (kept ¼, sampled −10); 2-0 HOT, kept in full (not
    // followed); 3-0 WARM, its sample without a price.
    const records = [record('1-0', 0.3, 'PARTIAL_75'), record('2-0', 0.9, 'FULL_CLOSE'), record('3-0', 0.4, 'PARTIAL_75')];
    const samples = heatSamplesById([sample('1-0', -10), sample('3-0', undefined)]);
    // At 1 / 2: all three COLD → PARTIAL_25 (kept ¾, three times the recorded ¼).
    const w = heatWhatIf(records, samples, ['5m'], { min: 1, max: 2 }, 'newest', configured);
    expect(w).toMatchObject({ downgraded: 3, downgradedTo: { PARTIAL_25: 3 }, changedFromRecorded: 3 });
    expect(w.pnl[0]).toMatchObject({ priced: 1, missingPrice: 1, noSample: 1, totalPnlUsd: -30, worstExcursionUsd: -30 });
  });

  it('reads a grid of HEAT_MIN:HEAT_MAX pairs and refuses a pair out of order', () => {
    expect(parseHeatGrid('0.25:0.65,0.001:0.01')).toEqual([
      { min: 0.25, max: 0.65 },
      { min: 0.001, max: 0.01 },
    ]);
    expect(() => parseHeatGrid('0.65:0.25')).toThrow(/below HEAT_MAX/);
    expect(() => parseHeatGrid('0.25')).toThrow(/HEAT_MIN:HEAT_MAX/);
  });

  it('reads cap settings by short or GOV_* name', () => {
    expect(parseCapSetting('per_trade=500,GOV_SYMBOL_COOLDOWN_SECONDS=30')).toEqual({ maxNotionalPerTrade: 500, cooldownSec: 30 });
    expect(() => parseCapSetting('per_trad=500')).toThrow(/per_trade, total, positions, cooldown/);
    expect(() => parseCapSetting('positions=2.5')).toThrow(/whole number/);
  });
});

describe('the heat calibration section', () => {
  it('draws the distribution up to past HEAT_MAX and notes a scale mismatch on the headline, not as an alarm', () => {
    const value = calibrationStatus([0.0006, 0.0004], configured);
    expect(value.bins).toHaveLength(20);
    // 20 bars up to 0.65 × 1.05: each 0.034125 wide.
    expect(value.bins[0]).toEqual({ heat: 0.0170625, count: 2 });
    expect(value.bins.at(-1)!.heat).toBeGreaterThan(0.65);
    const reasons = calibrationSection.headline!(value, 0);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatchObject({ state: 'NOTE' });
    const headline = statusHeadline({
      now: 0,
      dead_letter: null,
      sections: reasons,
      gates: [],
      readiness: undefined,
      redis: null,
      unread: [],
      trends: [],
    });
    expect(headline.state).toBe('OK');
    expect(headline.reasons.map((r) => r.state)).toEqual(['NOTE']);
  });

  it('makes the scale mismatch a DEGRADED reason where the gate enforces (issue #40 item 5)', () => {
    const reasons = calibrationSection.headline!(calibrationStatus([0.0006, 0.0004], configured, 'enforce'), 0);
    expect(reasons).toEqual([
      {
        state: 'DEGRADED',
        text: expect.stringMatching(/^heat-gate enforces thresholds the heat never reaches: calibration: the heat of 2 decisions/),
        since: null,
      },
    ]);
    const headline = statusHeadline({
      now: 0,
      dead_letter: null,
      sections: reasons,
      gates: [],
      readiness: undefined,
      redis: null,
      unread: [],
      trends: [],
    });
    expect(headline.state).toBe('DEGRADED');
    // Thresholds on the heat's scale: nothing, in either mode.
    expect(calibrationSection.headline!(calibrationStatus([0.0006, 0.0004], { min: 0.0005, max: 0.001 }, 'enforce'), 0)).toEqual([]);
  });

  it('has no note where the heat reaches the thresholds’ scale, or the settings are not known here', () => {
    expect(calibrationSection.headline!(calibrationStatus([0.3, 0.8], configured), 0)).toEqual([]);
    expect(calibrationStatus([0.0006], null).warning).toBeNull();
  });
});
