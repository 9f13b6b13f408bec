import { describe, expect, it } from 'vitest';
import { bootstrapInterval } from '../../cli/report/outcomes.js';
import { clusteredInterval, overlapClusters, symbolClusters, verdictOf, verdictsOf, type VerdictSample } from '../../cli/report/verdict.js';
import type { Outcome } from '../../schemas/outcome.js';

const MIN = 60_000;
const sample = (i: number, symbol: string, at: number, exposureUsd: number, pnlUsd: number, horizonMs = 5 * MIN): VerdictSample => ({
  decisionId: `d${i}`,
  symbol,
  decidedAt: at,
  horizonMs,
  exposureUsd,
  pnlUsd,
});

describe('the verdict per gate and kind (issue #40 item 4)', () => {
  it('groups decisions by symbol, and by runs whose horizons overlap whatever the symbol', () => {
    const samples = [
      sample(0, 'BTC', 0, 100, 1),
      sample(1, 'ETH', 2 * MIN, 100, 1), // inside d0's 5 minutes
      sample(2, 'BTC', 6 * MIN, 100, 1), // inside d1's (2 → 7 min)
      sample(3, 'SOL', 20 * MIN, 100, 1), // a new run
      sample(4, 'BTC', 25 * MIN, 100, 1), // exactly at d3's end: a new run
    ];
    expect(symbolClusters(samples)).toEqual([[0, 2, 4], [1], [3]]);
    expect(overlapClusters(samples)).toEqual([[0, 1, 2], [3], [4]]);
  });

  it('gives the total, PnL per unit of exposure in bps and the hit rate', () => {
    // Exposure 1,000 + 2,000 + 500 = 3,500; PnL 10 − 5 + 2.5 = 7.5: 21.4 bps; 2 of 3 made money.
    const v = verdictOf('heat gate', 'all', '5m', [
      sample(0, 'BTC', 0, 1000, 10),
      sample(1, 'ETH', 10 * MIN, -2000, -5),
      sample(2, 'SOL', 20 * MIN, 500, 2.5),
    ])!;
    expect(v).toMatchObject({ decisions: 3, totalPnlUsd: 7.5, pnlBps: 21.4, clusters: { symbols: 3, overlapping: 3 } });
    expect(v.hitRate).toBeCloseTo(2 / 3, 12);
  });

  it('says in words when the sample is small, the groups few, and the interval straddles zero', () => {
    const v = verdictOf('governor', 'blocked opens', '1h', [sample(0, 'BTC', 0, -100, 5), sample(1, 'ETH', 90 * MIN, -100, -4)])!;
    expect(v.conclusion).toBe('cannot tell');
    expect(v.warnings).toEqual([
      'only 2 decisions: a small sample, read the figures as a first look',
      'only 2 independent symbols: the interval is too narrow to trust',
      'the interval straddles zero: the record cannot tell whether these decisions help or hurt',
    ]);
    expect(v.text).toMatch(/^governor, blocked opens at 1h: 2 decisions cannot be told apart from the proposals: \$1\.00 \(90 % interval /);
  });

  it('widens the interval where decisions on one symbol move together, where an independent bootstrap would not', () => {
    // 40 decisions on 4 symbols, each symbol's ten alike (+3 or −1 each): the outcomes are ten
    // copies of four, not forty independent draws.
    const samples: VerdictSample[] = [];
    const per = { A: 3, B: 3, C: -1, D: -1 } as const;
    Object.entries(per).forEach(([symbol, pnl], k) => {
      for (let i = 0; i < 10; i++) samples.push(sample(k * 10 + i, symbol, (k * 10 + i) * 10 * MIN, 100, pnl));
    });
    const values = samples.map((s) => s.pnlUsd);
    const naive = bootstrapInterval(values)!;
    const clustered = clusteredInterval(values, symbolClusters(samples));
    expect(clustered[1] - clustered[0]).toBeGreaterThan(2 * (naive[1] - naive[0]));
    const v = verdictOf('heat gate', 'all', '5m', samples)!;
    expect(v.intervalBy).toBe('symbol');
    expect(v.interval90).toEqual(clustered);
    // Total 40; the groups are whole symbols: each resample is a sum of four of {30, 30, −10, −10}.
    expect(v.totalPnlUsd).toBe(40);
    for (const bound of v.interval90) expect([-40, 0, 40, 80, 120].includes(bound)).toBe(true);
  });

  it('keeps the heat gate and the governor apart, and each downgrade kind within the heat gate', () => {
    const outcome = (i: number, kind: string, decided: string, pnl: number): Outcome => ({
      decision_id: `${kind}:${i}`,
      kind,
      symbol: `S${i}USDT`,
      plan_id: `p${i}`,
      bucket: '',
      mode: 'shadow',
      proposed_action: kind === 'heat_downgrade' ? 'FULL_CLOSE' : 'OPEN_LONG',
      decided_action: decided,
      horizon: '5m',
      horizon_sec: 300,
      decided_at: i * 3_600_000,
      sampled_at: i * 3_600_000 + 300_000,
      exposure_usd: 1000,
      entry_price: 100,
      price: 101,
      pnl_usd: pnl,
      worst_pnl_usd: pnl,
    });
    const verdicts = verdictsOf('5m', [
      outcome(1, 'heat_downgrade', 'PARTIAL_25', 10),
      outcome(2, 'heat_downgrade', 'PARTIAL_75', -2),
      outcome(3, 'governor_block', 'BLOCK', 7),
    ]);
    expect(verdicts.map((v) => [v.gate, v.kind, v.totalPnlUsd])).toEqual([
      ['heat gate', 'all', 8],
      ['heat gate', 'FULL_CLOSE → PARTIAL_25', 10],
      ['heat gate', 'FULL_CLOSE → PARTIAL_75', -2],
      ['governor', 'all', 7],
    ]);
  });
});
