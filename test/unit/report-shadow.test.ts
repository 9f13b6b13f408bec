import { describe, expect, it } from 'vitest';
import { formatCsv, formatText } from '../../cli/report/shadow-format.js';
import { aggregateShadow, heatDistribution, type CalibratedEntry } from '../../cli/report/shadow.js';

let seq = 0;
function decision(fields: Record<string, string>): CalibratedEntry {
  seq += 1;
  return {
    id: `${1_800_000_000_000 + seq}-0`,
    fields: { symbol: 'ETHUSDT', mode: 'shadow', heat_bucket: 'COLD', heat_value: '0.1', reason: 'portfolio_heat_cold', ...fields },
  };
}

const fullClose = (calibrated: string, extra: Record<string, string> = {}) =>
  decision({ original_action: 'FULL_CLOSE', calibrated_action: calibrated, ...extra });

describe('aggregateShadow', () => {
  it('counts FULL_CLOSE proposals and how many were downgraded, and to what', () => {
    const report = aggregateShadow([
      fullClose('PARTIAL_25'),
      fullClose('PARTIAL_75', { heat_bucket: 'WARM', heat_value: '0.3', reason: 'portfolio_heat_warm' }),
      fullClose('FULL_CLOSE', { heat_bucket: 'HOT', heat_value: '0.9', reason: 'portfolio_heat_hot' }),
      decision({ original_action: 'PARTIAL_50', calibrated_action: 'PARTIAL_50', reason: 'action_not_full_close' }),
    ]);

    expect(report.entries).toBe(4);
    expect(report.total).toEqual({
      decisions: 4,
      fullClose: 3,
      downgraded: 2,
      downgradeRate: 2 / 3,
      downgradedTo: { PARTIAL_25: 1, PARTIAL_75: 1 },
    });
  });

  it('counts the Harvest Kernel’s FULL_CLOSE_PROPOSED as a full close', () => {
    const report = aggregateShadow([
      decision({ original_action: 'FULL_CLOSE_PROPOSED', calibrated_action: 'PARTIAL_25' }),
      decision({
        original_action: 'FULL_CLOSE_PROPOSED',
        calibrated_action: 'FULL_CLOSE_PROPOSED',
        heat_bucket: 'HOT',
        reason: 'portfolio_heat_hot',
      }),
      decision({ original_action: 'NONE', calibrated_action: 'NONE', reason: 'non_full_close_unchanged' }),
    ]);
    expect(report.total).toEqual({ decisions: 3, fullClose: 2, downgraded: 1, downgradeRate: 1 / 2, downgradedTo: { PARTIAL_25: 1 } });
  });

  it('splits the counts per heat bucket, COLD, WARM and HOT in that order', () => {
    const report = aggregateShadow([
      fullClose('FULL_CLOSE', { heat_bucket: 'HOT', heat_value: '0.9' }),
      fullClose('PARTIAL_75', { heat_bucket: 'WARM', heat_value: '0.3' }),
      fullClose('PARTIAL_25'),
      fullClose('PARTIAL_25'),
    ]);

    expect(Object.keys(report.byBucket)).toEqual(['COLD', 'WARM', 'HOT']);
    expect(report.byBucket.COLD).toMatchObject({ fullClose: 2, downgraded: 2, downgradeRate: 1, downgradedTo: { PARTIAL_25: 2 } });
    expect(report.byBucket.WARM).toMatchObject({ fullClose: 1, downgraded: 1, downgradedTo: { PARTIAL_75: 1 } });
    expect(report.byBucket.HOT).toMatchObject({ fullClose: 1, downgraded: 0, downgradeRate: 0, downgradedTo: {} });
  });

  it('splits the counts per symbol, busiest FULL_CLOSE symbol first', () => {
    const report = aggregateShadow([
      fullClose('PARTIAL_25', { symbol: 'ETHUSDT' }),
      fullClose('PARTIAL_25', { symbol: 'BTCUSDT' }),
      fullClose('FULL_CLOSE', { symbol: 'BTCUSDT', heat_bucket: 'HOT' }),
      decision({ symbol: 'SOLUSDT', original_action: 'PARTIAL_25', calibrated_action: 'PARTIAL_25' }),
    ]);

    expect(Object.keys(report.bySymbol)).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    expect(report.bySymbol.BTCUSDT).toMatchObject({ decisions: 2, fullClose: 2, downgraded: 1, downgradeRate: 0.5 });
    expect(report.bySymbol.SOLUSDT).toMatchObject({ decisions: 1, fullClose: 0, downgradeRate: null });
  });

  it('counts fail-closed decisions apart and leaves their placeholder heat out of the distribution', () => {
    const report = aggregateShadow([
      fullClose('PARTIAL_25', { reason: 'missing_portfolio_state', heat_value: '0' }),
      fullClose('PARTIAL_25', { reason: 'invalid_equity', heat_value: '0' }),
      fullClose('PARTIAL_25', { reason: 'heat_gate_error', heat_value: '0' }),
      fullClose('PARTIAL_25', { heat_value: '0.12' }),
    ]);

    expect(report.failClosed).toBe(3);
    expect(report.heat.count).toBe(1);
    expect(report.heat.min).toBe(0.12);
    expect(report.fullCloseReasons).toEqual({ missing_portfolio_state: 1, invalid_equity: 1, heat_gate_error: 1, portfolio_heat_cold: 1 });
  });

  it('skips entries without original or calibrated action and says how many', () => {
    const report = aggregateShadow([
      decision({ calibrated_action: 'PARTIAL_25' }),
      decision({ original_action: 'FULL_CLOSE' }),
      fullClose('PARTIAL_25'),
    ]);

    expect(report.unreadable).toBe(2);
    expect(report.total.decisions).toBe(1);
  });

  it('counts decisions per mode', () => {
    const report = aggregateShadow([
      fullClose('PARTIAL_25'),
      fullClose('PARTIAL_25', { mode: 'enforce' }),
      fullClose('PARTIAL_25', { mode: 'enforce' }),
    ]);

    expect(report.byMode).toEqual({ shadow: 1, enforce: 2 });
  });

  it('reports an empty window as zeros, not errors', () => {
    const report = aggregateShadow([]);

    expect(report.total).toEqual({ decisions: 0, fullClose: 0, downgraded: 0, downgradeRate: null, downgradedTo: {} });
    expect(report.heat).toMatchObject({ count: 0, min: null, max: null, mean: null, p50: null, p90: null });
    expect(formatText(report, { stream: 's', from: 0, to: 1 })).toContain('No decisions in this window.');
  });
});

describe('heatDistribution', () => {
  it.each([
    [0, '0.00-0.05'],
    [0.049999, '0.00-0.05'],
    [0.05, '0.05-0.10'],
    [0.249999, '0.20-0.25'],
    [0.25, '0.25-0.30'],
    [0.649999, '0.60-0.65'],
    [0.65, '0.65-0.70'],
    [0.999, '0.95-1.00'],
    [1, '>= 1.00'],
    [7.5, '>= 1.00'],
  ])('puts heat %s in bin %s (the 0.25 and 0.65 thresholds open a bin)', (heat, label) => {
    const { histogram } = heatDistribution([heat]);
    const bin = histogram.find((b) => b.count === 1)!;

    expect(bin.to === null ? `>= ${bin.from.toFixed(2)}` : `${bin.from.toFixed(2)}-${bin.to.toFixed(2)}`).toBe(label);
  });

  it('has 20 bins of 0.05 up to 1.0 and one open bin above', () => {
    const { histogram } = heatDistribution([]);

    expect(histogram).toHaveLength(21);
    expect(histogram[5]).toEqual({ from: 0.25, to: 0.3, count: 0 });
    expect(histogram[20]).toEqual({ from: 1, to: null, count: 0 });
  });

  it('honours another bin width', () => {
    expect(heatDistribution([0.3], { binWidth: 0.25 }).histogram.map((b) => b.count)).toEqual([0, 1, 0, 0, 0]);
  });

  it('computes min, max, mean and nearest-rank percentiles', () => {
    const values = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
    const h = heatDistribution(values);

    expect(h).toMatchObject({ count: 10, min: 0.1, max: 1.0, p50: 0.5, p90: 0.9 });
    expect(h.mean).toBeCloseTo(0.55, 10);
  });

  it('rejects a non-positive bin width', () => {
    expect(() => heatDistribution([0.1], { binWidth: 0 })).toThrow(RangeError);
  });
});

describe('report formats', () => {
  const report = aggregateShadow([
    fullClose('PARTIAL_25', { symbol: 'ETH,USDT' }),
    fullClose('PARTIAL_75', { heat_bucket: 'WARM', heat_value: '0.3' }),
    fullClose('FULL_CLOSE', { heat_bucket: 'HOT', heat_value: '0.9' }),
  ]);
  const window = { stream: 'quantum:stream:harvest.calibrated', from: Date.UTC(2026, 0, 27), to: Date.UTC(2026, 0, 28) };

  it('text shows the headline, a row per bucket and symbol, and the histogram', () => {
    const text = formatText(report, window);

    expect(text).toContain('3 decisions, 3 FULL_CLOSE proposals, 2 downgraded (66.7%): 1 to PARTIAL_25, 1 to PARTIAL_75');
    expect(text).toMatch(/^WARM\s+1\s+1\s+1\s+100\.0%\s+0\s+1$/m);
    expect(text).toContain('Heat distribution: n=3');
    expect(text).toMatch(/^0\.30-0\.35\s+1\s+#{40}$/m);
  });

  it('csv is one section,group,metric,value row per number, quoting cells that need it', () => {
    const lines = formatCsv(report, window).split('\n');

    expect(lines[0]).toBe('section,group,metric,value');
    expect(lines).toContain('total,all,downgraded,2');
    expect(lines).toContain('total,all,downgrade_rate,0.666667');
    expect(lines).toContain('bucket,COLD,downgraded_to_PARTIAL_25,1');
    expect(lines).toContain('symbol,"ETH,USDT",full_close,1');
    expect(lines).toContain('heat_histogram,>= 1.00,count,0');
    expect(lines.every((line) => line.split(',').length >= 4)).toBe(true);
  });
});
