import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpPlugins } from '../../app/http-plugins.js';
import { spreadGuard, type SpreadGuardConfig } from '../../docs/examples/spread-guard.js';
import { allHandlers } from '../../handlers/index.js';
import { defineStatusSection } from '../../runtime/contract/index.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { screenshotOfLive } from '../support/live-page.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime, waitFor } from '../support/runtime.js';
import { runCli } from './cli-harness.js';

/**
 * Neither the page nor the CLI knows any gate (issue #24 item 3): a gate they have never heard of,
 * declaring one section through every shape (a switch with a badge, a sentence, label / value
 * rows with a badge, a table with badge cells and row data, bars of a distribution with bands on
 * its x axis), is drawn whole on the page in headless Chromium and in `quantum-gates status`.
 */
const USER = 'ops';
const PASSWORD = 'correct-horse-battery';
const CHROMIUM = '/usr/bin/chromium';
const PROBE_KEY = 'quantum:test:probe';

interface ProbeStatus {
  readonly braked: boolean;
  readonly by: string | null;
  readonly count: number;
  readonly level: number;
  readonly state: string;
  readonly limits: { readonly low: number; readonly high: number };
  readonly rows: readonly { readonly symbol: string; readonly over: boolean }[];
  readonly bins: readonly { readonly level: number; readonly count: number }[];
}

const probeSection = defineStatusSection<SpreadGuardConfig, ProbeStatus>({
  key: 'probe',
  title: 'Probe gate',
  views: [
    {
      shape: 'switch',
      label: 'Probe brake',
      code: 'quantum:probe:brake',
      caption: 'probe brake',
      terminal: 'probe brake',
      states: [
        { when: { braked: true }, text: 'BRAKED: probes stop', tone: 'bad', terminal: 'ON: probes stop', note: 'by', noteLabel: 'by' },
        { text: 'released', tone: 'ok', terminal: 'off' },
      ],
    },
    { shape: 'sentence', parts: ['probed ', { key: 'count', format: 'count' }, ' times'] },
    {
      shape: 'fields',
      fields: [
        { key: 'level', label: 'Level', format: 'number', digits: 2 },
        {
          key: 'state',
          label: 'State',
          badge: [{ when: { state: 'HIGH' }, tone: 'stop', title: 'Above the high limit' }, { tone: 'neutral' }],
        },
      ],
    },
    {
      shape: 'table',
      rows: 'rows',
      empty: 'Nothing probed.',
      rowHeader: true,
      rowData: { symbol: 'symbol' },
      columns: [
        { key: 'symbol', label: 'Symbol' },
        {
          key: 'over',
          label: 'Over',
          badge: [
            { when: { over: true }, text: 'OVER', tone: 'warn', terminal: 'YES' },
            { text: 'no', tone: 'ok', terminal: 'no' },
          ],
        },
      ],
    },
    {
      shape: 'series',
      only: 'page',
      points: 'bins',
      x: 'level',
      xFormat: 'number',
      y: 'count',
      mark: 'bars',
      bands: { at: 'limits', axis: 'x', edges: ['low', 'high'], names: ['LOW', 'MID', 'HIGH'] },
      label: 'Level distribution',
      caption: 'Probes per level (`quantum:test:probe`)',
    },
  ],
  read: (ctx) =>
    ctx.read('probe', async () => {
      const raw = await ctx.redis.get(PROBE_KEY);
      return raw === null ? null : (JSON.parse(raw) as ProbeStatus);
    }),
});

/** A gate nobody wrote a layout for: the example gate under another name, with the probe section. */
const probeGate: typeof spreadGuard = { ...spreadGuard, name: 'probe-gate', http: { status: [probeSection] } };

const PROBE: ProbeStatus = {
  braked: true,
  by: 'alice',
  count: 1234,
  level: 0.4213,
  state: 'HIGH',
  limits: { low: 0.25, high: 0.65 },
  rows: [
    { symbol: 'BTCUSDT', over: true },
    { symbol: 'ETHUSDT', over: false },
  ],
  bins: [
    { level: 0.1, count: 4 },
    { level: 0.5, count: 9 },
    { level: 0.9, count: 2 },
  ],
};

describe("a new gate's section, declared only through views", () => {
  let redis: TestRedis;
  let runtime: Runtime;
  let address: string;

  beforeAll(async () => {
    redis = await startTestRedis();
    await redis.client.set(PROBE_KEY, JSON.stringify(PROBE));
    runtime = await createTestRuntime(
      redis.url,
      { HANDLERS: 'position-snapshot', DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD },
      [...allHandlers, probeGate],
      { httpPlugins },
    );
    address = await runtime.start();
  });

  afterAll(async () => {
    await runtime?.stop();
    await redis?.stop();
  });

  it('is drawn in quantum-gates status', async () => {
    const result = await runCli(['status'], { QG_URL: address, DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD });

    expect(result.code, result.stderr).toBe(0);
    // Its switch on the switches' line, beside the governor's.
    expect(result.stdout).toMatch(/^kill switch off {3}disarm off {3}probe brake ON: probes stop \(by "alice"\)$/m);
    const block = result.stdout.slice(result.stdout.indexOf('\nProbe gate\n'));
    expect(block).not.toContain('probe brake');
    expect(block).toMatch(/^probed 1234 times$/m);
    expect(block).toMatch(/^Level {2}0\.42$/m);
    expect(block).toMatch(/^State {2}HIGH$/m);
    expect(block).toMatch(/^SYMBOL +OVER$/m);
    expect(block).toMatch(/^BTCUSDT +YES$/m);
    expect(block).toMatch(/^ETHUSDT +no$/m);
    // The distribution is for the page only.
    expect(block).not.toContain('Level distribution');
  });

  describe('in headless Chromium', () => {
    let browser: Browser;
    let page: Page;

    beforeAll(async () => {
      if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
      const context = await browser.newContext({
        httpCredentials: { username: USER, password: PASSWORD },
        viewport: { width: 1280, height: 900 },
      });
      page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${address}/`);
      await waitFor(async () => (await page.locator('section[data-section="probe"]').count()) === 1, { what: 'the probe section drawn' });
      expect(errors).toEqual([]);
    });
    afterAll(async () => {
      await browser?.close();
    });

    const text = async (selector: string) => ((await page.locator(selector).first().textContent()) ?? '').trim();

    it('puts its switch among the safety switches, with its badge and note', async () => {
      expect(await text('#switches-body tr[data-section="probe"] th')).toBe('Probe brake quantum:probe:brake');
      expect(await text('#probe')).toBe('BRAKED: probes stop (by "alice")');
      expect(await page.locator('#probe .badge-bad').count()).toBe(1);
      expect(await text('#switches-caption')).toBe('Kill switch, governor auto-disarm, probe brake and the dead-letter stream');
      // The dead-letter stream stays the last row.
      expect(await page.locator('#switches-body tr').last().locator('#dead-letter').count()).toBe(1);
    });

    it('draws the section after the shipped ones, from its views', async () => {
      expect(await page.locator('#gate-sections section').evaluateAll((all) => all.map((e) => e.getAttribute('data-section')))).toEqual([
        'reservations',
        'positions_unknown',
        'probe',
        // The shadow's (app/shadow) comes after every gate's.
        'shadow',
      ]);
      const section = 'section[data-section="probe"]';
      expect(await text(`${section} h2`)).toBe('Probe gate');
      expect(await text('#probe-summary')).toBe('probed 1,234 times');
      expect(await text('#probe-level')).toBe('0.42');
      expect(await text('#probe-state')).toBe('HIGH');
      expect(await page.locator('#probe-state .badge-stop').getAttribute('title')).toBe('Above the high limit');
      expect(await text('#probe-body tr[data-symbol="BTCUSDT"] th')).toBe('BTCUSDT');
      expect(await text('#probe-body tr[data-symbol="BTCUSDT"] td[data-field="over"]')).toBe('OVER');
      expect(await text('#probe-body tr[data-symbol="ETHUSDT"] td[data-field="over"]')).toBe('no');
    });

    it('draws the distribution as bars with its bands on the x axis', async () => {
      const chart = page.locator('#probe-chart svg');
      expect(await chart.locator('rect.bar').count()).toBe(3);
      expect(await chart.locator('rect.band').count()).toBe(3);
      expect(await chart.locator('text.band-label').allTextContents()).toEqual(['LOW', 'MID', 'HIGH']);
      expect(await chart.locator('line.threshold').count()).toBe(2);
      expect(await chart.locator('text.axis-label', { hasText: '0.25' }).count()).toBe(1);
      expect(await text('#probe-chart-title')).toBe('Level distribution');
      expect(await page.locator('section[data-section="probe"] figcaption code').textContent()).toBe(PROBE_KEY);
      // The tallest bar is the middle one (9 probes), the bars stand on the axis.
      const heights = await chart.locator('rect.bar').evaluateAll((bars) => bars.map((b) => Number(b.getAttribute('height'))));
      expect(heights[1]).toBeGreaterThan(heights[0]!);
      expect(heights[0]).toBeGreaterThan(heights[2]!);
      await screenshotOfLive(page, 'section[data-section="probe"]', { path: 'test-artifacts/status-new-section.png' });
    });
  });
});
