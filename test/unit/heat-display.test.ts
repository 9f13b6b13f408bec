import { describe, expect, it } from 'vitest';
import { heatText } from '../../domain/heat.js';
import { limitsOf, parseGovernorConfig } from '../../handlers/governor/config.js';
import { heatDecisions } from '../../handlers/heat-gate/status.js';
import { calibrateReport } from '../../cli/report/calibrate.js';
import { formatCalibrateText } from '../../cli/report/calibrate-format.js';
import type { HeatDecisionRecord } from '../../cli/report/calibrate-heat.js';

/** A float as the heat formula makes it: Σ(|notional| × sigma) / equity, 17 digits. */
const UNROUNDED = 0.2941666666666667;
const MANY_DIGITS = /\d\.\d{6,}/;

describe('a heat as the operator reads it: 4 significant digits, in the status and the reports alike', () => {
  it('rounds to 4 significant digits, and writes no trailing zeros', () => {
    expect(heatText(UNROUNDED)).toBe('0.2942');
    expect(heatText(0.8825)).toBe('0.8825');
    expect(heatText(0.000612345)).toBe('0.0006123');
    expect(heatText(0.25)).toBe('0.25');
    expect(heatText(1_000_000)).toBe('1000000');
  });

  it("the status's latest decisions show the heat rounded (the stream keeps it exact)", () => {
    const [decision] = heatDecisions(
      [
        [
          '1000-0',
          [
            'symbol',
            'BTCUSDT',
            'original_action',
            'FULL_CLOSE',
            'calibrated_action',
            'PARTIAL_75',
            'calibrated',
            'true',
            'heat_value',
            String(UNROUNDED),
            'heat_bucket',
            'WARM',
          ],
        ],
      ],
      20,
    );
    expect(decision?.detail).toBe('heat 0.2942 WARM');
  });

  it("report calibrate's headline and text show the heat rounded", () => {
    const decision = (i: number, heat: number): HeatDecisionRecord => ({
      id: `${1000 + i}-0`,
      at: 1000 + i,
      symbol: 'BTCUSDT',
      planId: `p${i}`,
      inAction: 'FULL_CLOSE',
      outAction: 'PARTIAL_75',
      mode: 'shadow',
      heat,
      bySymbol: { BTCUSDT: heat },
    });
    const report = calibrateReport({
      heatDecisions: [decision(0, UNROUNDED), decision(1, UNROUNDED), decision(2, 0.8825)],
      governorDecisions: [],
      samples: [],
      window: { from: 0, to: 10_000 },
      thresholds: { min: 0.25, max: 0.65 },
      era: 'seed',
      limits: limitsOf(parseGovernorConfig({})),
    });
    expect(report.headline).toMatch(/^heat median 0\.2942 over 3 decisions/);
    const text = formatCalibrateText(report, { from: 0, to: 10_000, streams: 'test' });
    expect(text).toContain('p50 0.2942');
    expect(text).not.toMatch(MANY_DIGITS);
  });
});
