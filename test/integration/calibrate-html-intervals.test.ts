import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { calibrateReport } from '../../cli/report/calibrate.js';
import { formatCalibrateText } from '../../cli/report/calibrate-format.js';
import { formatCalibrateHtml } from '../../cli/report/calibrate-html.js';
import type { HeatDecisionRecord } from '../../cli/report/calibrate-heat.js';
import { limitsOf, parseGovernorConfig } from '../../handlers/governor/config.js';
import type { Outcome } from '../../schemas/outcome.js';
import { drawBook } from '../support/coverage-books.js';

const MIN = 60_000;
const HOUR = 3_600_000;

/**
 * `report calibrate --html` with enough independent data for intervals: a day of full closes on
 * eight symbols held long that move together (test/support/coverage-books.ts), each downgraded to PARTIAL_25
 * and sampled at 5 m. The page gives each row's interval over blocks of time and its warnings.
 */
describe('report calibrate --html: the intervals over blocks of time and their warnings, as a browser renders them', () => {
  const { samples: drawn } = drawBook(
    {
      name: 'a day',
      symbols: 8,
      rho: 0.6,
      horizonMs: 5 * MIN,
      spanMs: 24 * HOUR,
      everyMs: 2 * MIN,
      burst: 1,
      stepMs: 30_000,
      longShare: 1,
    },
    7,
  );
  const start = 1_800_000_000_000;
  const records: HeatDecisionRecord[] = drawn.map((d, i) => ({
    id: `${start + d.at}-${i}`,
    at: start + d.at,
    symbol: d.symbol,
    planId: `p${i}`,
    inAction: 'FULL_CLOSE',
    outAction: 'PARTIAL_25',
    mode: 'shadow',
    // Heats spread over 0.0001-0.0009, so proposals have something to split.
    heat: 0.0001 * (1 + (i % 9)),
    bySymbol: {},
  }));
  const samples: Outcome[] = drawn.map((d, i) => ({
    decision_id: `heat:${records[i]!.id}`,
    kind: 'heat_downgrade',
    symbol: d.symbol,
    plan_id: `p${i}`,
    bucket: 'COLD',
    mode: 'shadow',
    proposed_action: 'FULL_CLOSE',
    decided_action: 'PARTIAL_25',
    horizon: '5m',
    horizon_sec: 300,
    decided_at: start + d.at,
    sampled_at: start + d.at + 5 * MIN,
    exposure_usd: 3000,
    entry_price: 100,
    price: 100,
    pnl_usd: Math.round(d.pnlUsd * 100) / 100,
    worst_pnl_usd: Math.round(d.pnlUsd * 100) / 100,
  }));
  const report = calibrateReport({
    heatDecisions: records,
    governorDecisions: [],
    samples,
    window: { from: start, to: start + 25 * HOUR },
    thresholds: { min: 0.25, max: 0.65 },
    era: 'newest',
    limits: limitsOf(parseGovernorConfig({})),
    horizons: [{ label: '5m', ms: 5 * MIN }],
  });
  const text = formatCalibrateText(report, { from: start, to: start + 25 * HOUR, streams: 'synthetic' });

  it('gives every priced row an interval over blocks of time, and says the symbols move together', async () => {
    const configured = report.heatWhatIf[0]!.pnl[0]!;
    expect(configured.interval90).not.toBeNull();
    expect(configured.blocks).toBeGreaterThanOrEqual(20);
    expect(configured.warnings.some((w) => w.startsWith("the symbols' outcomes move together"))).toBe(true);
    expect(text).toMatch(
      /5m: \d+ priced, 0 no price, 0 no sample; .*, 90% \[-?\$[\d.]+, -?\$[\d.]+\] over \d+ blocks of time; the symbols' outcomes move together/,
    );

    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
      await page.setContent(formatCalibrateHtml(report, text));
      const first = page.locator('figure#heat-0');
      expect(await first.locator('.legend .interval').first().textContent()).toMatch(
        /^90 % \[-?\$[\d.]+, -?\$[\d.]+\] over \d+ blocks of time$/,
      );
      expect(await first.locator('.legend .warning').first().textContent()).toMatch(
        /^⚠ the symbols' outcomes move together \(mean correlation 0\.\d\d\)/,
      );
      // Each proposal's caption gives the spread of its thresholds over random halves of the record.
      expect(await page.locator('figure#proposal-0 figcaption').textContent()).toMatch(
        /^Proposed HEAT_MIN [\d.]+ \(halves [\d.]+–[\d.]+\) HEAT_MAX/,
      );
      const dir = resolve(import.meta.dirname, '../../test-artifacts');
      mkdirSync(dir, { recursive: true });
      await first.screenshot({ path: resolve(dir, 'calibrate-html-intervals.png') });
    } finally {
      await browser.close();
    }
  });
});
