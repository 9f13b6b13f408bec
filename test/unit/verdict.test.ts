import { describe, expect, it } from 'vitest';
import { verdictOf, verdictsOf, type VerdictSample } from '../../cli/report/verdict.js';
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

describe('the verdict per gate and kind', () => {
  it('gives the total, PnL per unit of exposure in bps and the hit rate', () => {
    // Exposure 1,000 + 2,000 + 500 = 3,500; PnL 10 − 5 + 2.5 = 7.5: 21.4 bps; 2 of 3 made money.
    const v = verdictOf('heat gate', 'all', '5m', [
      sample(0, 'BTC', 0, 1000, 10),
      sample(1, 'ETH', 10 * MIN, -2000, -5),
      sample(2, 'SOL', 20 * MIN, 500, 2.5),
    ])!;
    expect(v).toMatchObject({ decisions: 3, totalPnlUsd: 7.5, pnlBps: 21.4, symbols: 3 });
    expect(v.hitRate).toBeCloseTo(2 / 3, 12);
  });

  it('says "not enough independent data" instead of an interval and a conclusion on two decisions', () => {
    const v = verdictOf('governor', 'blocked opens', '1h', [sample(0, 'BTC', 0, -100, 5), sample(1, 'ETH', 90 * MIN, -100, -4)])!;
    expect(v.conclusion).toBe('not enough independent data');
    expect(v.interval90).toBeNull();
    expect(v.warnings).toEqual([
      'only 2 decisions: a small sample, read the figures as a first look',
      // 5 m horizon + 90 m spacing = 95 m bins, both decisions in the first; 2 bins a block.
      'not enough independent data for an interval: 0 independent blocks of 3.17 h of time (2 bins, each the horizon plus the typical spacing), under 8',
    ]);
    expect(v.text).toMatch(
      /^governor, blocked opens at 1h: 2 decisions cannot be judged yet \(not enough independent data\): \$1\.00 \(no interval\), /,
    );
  });

  it('never gives a zero-width interval or "better" for one symbol whose every outcome is the same', () => {
    // 200 decisions on one symbol, a minute apart, each +$3: the old bootstrap over symbols gave
    // [$600, $600] and "did better".
    const samples = Array.from({ length: 200 }, (_, i) => sample(i, 'BTC', i * MIN, 100, 3, MIN));
    const v = verdictOf('heat gate', 'all', '1m', samples)!;
    expect(v.interval90).toBeNull();
    expect(v.conclusion).toBe('not enough independent data');
    expect(v.warnings).toContain('not enough independent data for an interval: every resample gives the same total');
    expect(v.warnings).toContain('every decision is on one symbol (BTC): the figures speak for it alone, not for a book');
  });

  it('resamples stretches of time with every symbol in them, and says when the symbols move together', () => {
    // 8 symbols decide together every minute; each minute's move (±1 alike) hits all of them.
    const samples: VerdictSample[] = [];
    for (let t = 0; t < 600; t++) {
      const move = Math.sin(t * 12.9898) * 43_758.5453;
      const market = move - Math.floor(move) < 0.5 ? -1 : 1;
      for (let s = 0; s < 8; s++) samples.push(sample(t * 8 + s, `S${s}`, t * MIN, 100, market + 0.1 + (s % 2) * 0.01, MIN));
    }
    const v = verdictOf('heat gate', 'all', '1m', samples)!;
    // Bins of 1 m (horizon) + 1 m (spacing) = 2 m; 300 bins, blocks of 7 bins: 42 blocks.
    expect(v.blocks).toEqual({ count: 42, binMs: 2 * MIN, binsPerBlock: 7 });
    expect(v.crossSymbolCorrelation).toBe(1);
    expect(v.warnings).toContain("the symbols' outcomes move together (mean correlation 1.00): they count as one bet on the market, not 8");
    // The total's spread is that of 600 market moves × 8, not of 4,800 independent ones.
    const [lo, hi] = v.interval90!;
    expect(hi - lo).toBeGreaterThan(8 * 2 * 1.6 * Math.sqrt(600) * 0.8);
  });

  it('takes a week of decisions at a 1 s horizon (200,000 of them, 150,000 bins) in its stride', () => {
    const WEEK = 7 * 24 * 3_600_000;
    const samples = Array.from({ length: 200_000 }, (_, i) =>
      sample(i, `S${i % 30}`, Math.floor((i / 200_000) * WEEK), 100, (i % 7) - 3, 1000),
    );
    const v = verdictOf('heat gate', 'all', '1s', samples)!;
    expect(v.blocks.binMs).toBe(1000 + 3024); // the horizon and the spacing, a week over 200,000
    expect(v.interval90).not.toBeNull();
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
