import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import type { Decision } from '../../handlers/decisions.js';
import type { HeatStatus } from '../../handlers/heat-gate/status.js';
import type { GatesStatus as AnyGatesStatus } from '../../app/http/status/status.js';
import { httpPlugins } from '../../app/http-plugins.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime, waitFor } from '../support/runtime.js';
import { afterRepliesSent, untilEachSeen, untilKeys, untilStreamLength } from '../support/until.js';

const USER = 'ops';
const PASSWORD = 'correct-horse-battery';
const AUTH = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS = 'test-artifacts';
const PACKAGE_VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
/** A time as the page writes it: date, time and the zone's name (Chromium here runs in UTC). */
/** The status with the two gates' sections this test reads field by field. */
type GatesStatus = AnyGatesStatus & { readonly heat: HeatStatus | null; readonly decisions: readonly Decision[] | null };
const ZONED_TIME = /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/;

/**
 * One runtime hosting the heat gate and position snapshots (the gates whose outputs this test
 * controls exactly), fed through the real streams; the governor's events and the budgets are
 * written the way those gates write them.
 */
describe('gates status: GET /status and the page at /', () => {
  let redis: TestRedis;
  let runtime: Runtime;
  let address: string;
  let browser: Browser;

  async function status(): Promise<GatesStatus> {
    const response = await runtime.server.inject({ url: '/status', headers: AUTH });
    expect(response.statusCode).toBe(200);
    return response.json() as GatesStatus;
  }

  async function processed(gate: string): Promise<number> {
    return (await status()).gates.find((g) => g.name === gate)?.processed ?? 0;
  }

  async function propose(planId: string, symbol: string, action = 'FULL_CLOSE'): Promise<void> {
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', planId, 'symbol', symbol, 'action', action);
  }

  beforeAll(async () => {
    redis = await startTestRedis();
    runtime = await createTestRuntime(
      redis.url,
      { HANDLERS: 'position-snapshot,heat-gate', DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD },
      allHandlers,
      { httpPlugins },
    );
    address = await runtime.start();

    const r = redis.client;
    // Heat = (5000 × 0.5 + 2000 × 0.4) / 10000 = 0.33: WARM, so FULL_CLOSE becomes PARTIAL_75.
    await r.hset(keys.portfolioState, 'equity_usd', '10000');
    await r.xadd(streams.positionSnapshot, '*', 'symbol', 'BTCUSDT', 'position_notional_usd', '5000', 'sigma', '0.5');
    await r.xadd(streams.positionSnapshot, '*', 'symbol', 'ETHUSDT', 'position_notional_usd', '2000', 'sigma', '0.4');
    await untilKeys(r, [keys.activePositions], async () => (await r.scard(keys.activePositions)) === 2, { what: 'both snapshots applied' });
    await r.hset(keys.budget('BTCUSDT'), {
      symbol: 'BTCUSDT',
      budget_usd: '1800.50',
      stress_factor: '0.425',
      mode: 'shadow',
      timestamp: String(Math.floor(Date.now() / 1000)),
    });
    await r.hset(keys.budget('ETHUSDT'), {
      symbol: 'ETHUSDT',
      budget_usd: '2500',
      stress_factor: '0.2',
      mode: 'shadow',
      timestamp: String(Math.floor(Date.now() / 1000)),
    });
    await r.set(keys.killSwitch, '1');
    await r.set(keys.governorDisarm, JSON.stringify({ reason: 'governor_errors', errors: 5, window_sec: 60 }));
    await r.xadd(
      streams.governorEvents,
      '*',
      'event',
      'permit',
      'plan_id',
      'g1',
      'symbol',
      'ETHUSDT',
      'action',
      'FULL_CLOSE',
      'kind',
      'close',
      'reason',
      'close_bypasses_caps',
    );
    await r.xadd(
      streams.governorEvents,
      '*',
      'event',
      'block',
      'plan_id',
      'g2',
      'symbol',
      'BTCUSDT',
      'action',
      'OPEN_LONG',
      'kind',
      'open',
      'reason',
      'symbol_cooldown',
    );

    // Outcome samples as the follow-up writes them: +150 then −300 at 4h, one 5m sample apart.
    const sample = (id: string, horizon: string, sec: number, decidedAt: number, pnl: string) =>
      r.xadd(
        streams.gatesOutcome,
        '*',
        'decision_id',
        id,
        'kind',
        'heat_downgrade',
        'symbol',
        'ETHUSDT',
        'plan_id',
        id,
        'horizon',
        horizon,
        'horizon_sec',
        String(sec),
        'decided_at',
        String(decidedAt),
        'sampled_at',
        String(decidedAt + sec * 1000),
        'exposure_usd',
        '3000',
        'entry_price',
        '2000',
        'price',
        '2100',
        'price_missing',
        '0',
        'pnl_usd',
        pnl,
        'worst_pnl_usd',
        pnl,
      );
    await sample('heat:1-0', '5m', 300, 1_000, '40');
    await sample('heat:1-0', '4h', 14_400, 1_000, '150');
    await sample('heat:2-0', '4h', 14_400, 2_000, '-300');

    await propose('s1', 'BTCUSDT');
    await propose('s2', 'ETHUSDT');
    await propose('s3', 'ETHUSDT', 'PARTIAL_50');
    await untilEachSeen(redis.client, streams.harvestCalibrated, 'plan_id', ['s1', 's2', 's3'], { what: 'three proposals processed' });
    // Counted on their commits' replies, sent before this round trip's.
    await afterRepliesSent(redis.client);
    expect(await processed('heat-gate')).toBe(3);
  });

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await redis?.stop();
  });

  it('reports each gate with its mode, counts, and its consumer group caught up', async () => {
    const s = await status();
    expect(s.redis_ready).toBe(true);
    expect(s.errors).toEqual([]);
    const heatGate = s.gates.find((g) => g.name === 'heat-gate');
    const snapshots = s.gates.find((g) => g.name === 'position-snapshot');
    expect(heatGate).toMatchObject({
      mode: 'shadow',
      trigger: 'stream',
      source: streams.harvestProposal,
      group: 'p26_heat_gate',
      consuming: true,
      processed: 3,
      handled: 3,
      failed: 0,
      dead_lettered: 0,
      pending: 0,
      lag: 0,
    });
    expect(snapshots).toMatchObject({ mode: null, processed: 2, pending: 0, lag: 0 });
  });

  it('counts a dead-lettered proposal against its gate', async () => {
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'bad', 'symbol', 'not a symbol', 'action', 'FULL_CLOSE');
    await untilStreamLength(redis.client, streams.deadLetter, 1, { what: 'the dead letter' });
    // Counted on its commit's reply, sent before this round trip's.
    await afterRepliesSent(redis.client);
    const s = await status();
    expect(s.gates.find((g) => g.name === 'heat-gate')).toMatchObject({ processed: 4, dead_lettered: 1 });
    expect(s.dead_letter).toEqual({ stream: streams.deadLetter, length: 1 });
  });

  it('shows the current heat with its bucket, thresholds and recent history', async () => {
    const { heat } = await status();
    expect(heat).toMatchObject({ value: 0.33, bucket: 'WARM', thresholds: { min: 0.25, max: 0.65 } });
    expect(heat?.updated_at).toBeGreaterThan(Date.now() - 60_000);
    expect(heat?.history.map((p) => [p.heat, p.bucket])).toEqual([
      [0.33, 'WARM'],
      [0.33, 'WARM'],
      [0.33, 'WARM'],
    ]);
  });

  it('lists budgets per symbol with stress, next to the position', async () => {
    const { budgets } = await status();
    expect(budgets).toEqual([
      expect.objectContaining({
        symbol: 'BTCUSDT',
        budget_usd: 1800.5,
        stress_factor: 0.425,
        position_notional_usd: 5000,
        over_budget: true,
        mode: 'shadow',
      }),
      expect.objectContaining({ symbol: 'ETHUSDT', budget_usd: 2500, stress_factor: 0.2, position_notional_usd: 2000, over_budget: false }),
    ]);
  });

  it('names the version and the instance that answered', async () => {
    const s = await status();
    expect(s.build).toEqual({ version: PACKAGE_VERSION, commit: expect.any(String) });
    expect(s.instance).toEqual({
      name: runtime.config.CONSUMER_NAME,
      hostname: hostname(),
      port: Number(new URL(address).port),
      redis: `${redis.url}/0`,
      redis_id: `run_id:${/^run_id:(\w+)/m.exec(await redis.client.info('server'))![1]}`,
    });
  });

  it('shows the kill switch and the auto-disarm with its reason', async () => {
    const s = await status();
    expect(s.kill_switch).toEqual({ active: true, value: '1' });
    expect(s.disarm).toEqual({ active: true, detail: 'reason: governor_errors; errors: 5; window_sec: 60' });
  });

  it('shows the cumulative counterfactual PnL of the followed decisions at the longest horizon', async () => {
    expect((await status()).outcomes).toEqual({
      horizon: '4h',
      samples: 2,
      missing_price: 0,
      total_pnl_usd: -150,
      series: [
        { at: 1_000, cumulative_usd: 150 },
        { at: 2_000, cumulative_usd: -150 },
      ],
      warning:
        'not enough independent data for an interval: 0 independent blocks of 8 h of time (2 bins, each the horizon plus the typical spacing), under 8; ' +
        'every decision is on one symbol (ETHUSDT): the figures speak for it alone, not for a book',
    });
  });

  it('lists every heat-gate decision, kept and downgraded, and the permits and blocks, newest first', async () => {
    const { decisions } = await status();
    const rows = (decisions ?? []).map((d) => [d.gate, d.kind, d.plan_id, d.action, d.reason]);
    expect(rows).toEqual([
      ['heat-gate', 'kept', 's3', 'PARTIAL_50', 'partial_unchanged'],
      ['heat-gate', 'downgrade', 's2', 'FULL_CLOSE → PARTIAL_75', 'portfolio_heat_warm'],
      ['heat-gate', 'downgrade', 's1', 'FULL_CLOSE → PARTIAL_75', 'portfolio_heat_warm'],
      ['governor', 'block', 'g2', 'OPEN_LONG', 'symbol_cooldown'],
      ['governor', 'permit', 'g1', 'FULL_CLOSE', 'close_bypasses_caps'],
    ]);
  });

  it("lists the gates' sections and who declares them at GET /status/sections", async () => {
    const response = await runtime.server.inject({ url: '/status/sections', headers: AUTH });
    expect(response.statusCode).toBe(200);
    const sections = response.json() as { key: string; gates: string[] }[];
    expect(sections.map((s) => [s.key, s.gates])).toEqual([
      ['heat', ['heat-gate']],
      ['heat_calibration', ['heat-gate']],
      ['decisions', ['heat-gate', 'governor']],
      ['kill_switch', ['governor']],
      ['disarm', ['governor']],
      ['reservations', ['governor']],
      ['positions_unknown', ['governor']],
      ['budgets', ['risk-budget']],
      ['outcomes', ['outcome-sweep']],
      // The shadow's (app/shadow), after the gates': read from quantum:shadow:, whichever gates this process hosts.
      ['shadow', ['shadow']],
    ]);
    expect((await runtime.server.inject({ url: '/status/sections' })).statusCode).toBe(401);
  });

  describe('in headless Chromium', () => {
    beforeAll(async () => {
      if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
      mkdirSync(ARTIFACTS, { recursive: true });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });

    async function cellText(page: Page, selector: string): Promise<string> {
      return ((await page.locator(selector).first().textContent()) ?? '').trim();
    }

    /** Polls the rendered page (not the API) until `selector` reads `expected`. */
    async function untilText(page: Page, selector: string, expected: string | RegExp): Promise<void> {
      await waitFor(
        async () => {
          const text = await cellText(page, selector);
          return (typeof expected === 'string' ? text === expected : expected.test(text)) ? text : undefined;
        },
        { what: `${selector} to read ${String(expected)}` },
      );
    }

    it('refuses the page without credentials', async () => {
      const context = await browser.newContext({ httpCredentials: { username: USER, password: 'not-the-password' } });
      try {
        const response = await (await context.newPage()).goto(`${address}/`);
        expect(response?.status()).toBe(401);
      } finally {
        await context.close();
      }
    });

    it('works when opened with the credentials in the URL (http://user:pass@host/)', async () => {
      const context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD } });
      try {
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        const withCredentials = address.replace('http://', `http://${USER}:${PASSWORD}@`);
        expect((await page.goto(`${withCredentials}/`))?.status()).toBe(200);
        await untilText(page, 'tr[data-gate="heat-gate"] td[data-field="mode"]', 'shadow');
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
    });

    it('shows the gates and their numbers, and updates them live as proposals arrive', async () => {
      const context = await browser.newContext({
        httpCredentials: { username: USER, password: PASSWORD },
        viewport: { width: 1360, height: 1000 },
      });
      try {
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        page.on('console', (message) => {
          if (message.type() === 'error') errors.push(message.text());
        });
        const response = await page.goto(`${address}/`);
        expect(response?.status()).toBe(200);

        const heatRow = 'tr[data-gate="heat-gate"]';
        await untilText(page, `${heatRow} td[data-field="processed"]`, '4');
        expect(await cellText(page, `${heatRow} td[data-field="mode"]`)).toBe('shadow');
        expect(await cellText(page, `${heatRow} td[data-field="dead-lettered"]`)).toBe('1');
        expect(await cellText(page, `${heatRow} td[data-field="pending"]`)).toBe('0');
        expect(await cellText(page, `${heatRow} td[data-field="lag"]`)).toBe('0');
        expect(await cellText(page, 'tr[data-gate="position-snapshot"] td[data-field="mode"]')).toBe('n/a');
        expect(await cellText(page, '#heat-value')).toBe('0.3300');
        expect(await cellText(page, '#heat-bucket')).toBe('WARM');
        expect(await cellText(page, '#kill-switch')).toContain('ACTIVE');
        expect(await cellText(page, '#disarm')).toContain('governor_errors');
        expect(await cellText(page, 'tr[data-symbol="BTCUSDT"] td[data-field="within"]')).toBe('OVER budget');
        expect(await cellText(page, 'tr[data-decision="block"] td[data-field="reason"]')).toBe('symbol_cooldown');
        expect(await page.locator('#heat-chart svg path.heat-line').count()).toBe(1);
        expect(await page.locator('#outcomes-chart svg polyline').count()).toBe(1);
        expect(await cellText(page, '#outcomes-summary')).toContain('2 decisions at 4h: against their proposals they changed PnL by −$150');
        expect(await cellText(page, '#outcomes-summary')).toContain('Mind: not enough independent data for an interval');
        const firstUpdate = await cellText(page, '#last-updated');
        expect(firstUpdate).toMatch(new RegExp(`^${ZONED_TIME.source}$`));
        expect(await cellText(page, 'tr[data-decision="block"] td[data-field="time"]')).toMatch(new RegExp(`^${ZONED_TIME.source}$`));
        expect(await cellText(page, 'tr[data-symbol="BTCUSDT"] td[data-field="computed"]')).toMatch(ZONED_TIME);
        expect(await cellText(page, '[data-testid="version"]')).toMatch(
          new RegExp(`^version ${PACKAGE_VERSION.replaceAll('.', '\\.')} \\(\\S+\\)$`),
        );
        expect(await cellText(page, '#instance-name')).toBe(`${runtime.config.CONSUMER_NAME} on ${hostname()}:${new URL(address).port}`);
        // This host and Redis share a machine: the offset is measured, and small.
        expect(await cellText(page, '[data-testid="clock-offset"]')).toMatch(/^this host [+-]?\d+ ms against Redis's TIME$/);

        // Live: no reload. The heat turns HOT (equity 10000 → 4000: 3300 / 4000 = 0.825), so
        // the next FULL_CLOSE passes unchanged, the chart grows and the counts move.
        await redis.client.hset(keys.portfolioState, 'equity_usd', '4000');
        await propose('s4', 'BTCUSDT');
        await propose('s5', 'ETHUSDT');
        await untilText(page, `${heatRow} td[data-field="processed"]`, '6');
        await untilText(page, '#heat-bucket', 'HOT');
        expect(await cellText(page, '#heat-value')).toBe('0.8250');
        // HOT keeps a FULL_CLOSE as it is: a decision listed like the downgrades.
        const kept = 'tr[data-decision="kept"][data-id]';
        await untilText(page, `${kept} td[data-field="plan"]`, 's5');
        expect(await cellText(page, `${kept} td[data-field="action"]`)).toBe('FULL_CLOSE');
        expect(await cellText(page, `${kept} td[data-field="detail"]`)).toBe('heat 0.825 HOT');
        expect(await cellText(page, `${kept} td[data-field="decision"]`)).toBe('KEPT');
        expect(await page.locator('tr[data-decision="kept"] td[data-field="plan"]', { hasText: 's4' }).count()).toBe(1);
        await waitFor(async () => (await cellText(page, '#last-updated')) !== firstUpdate, { what: 'the last-updated time to move' });
        expect(errors).toEqual([]);
        // The six original sections have their own layout above and are not drawn again; the
        // governor's reservations and held positions of unknown size (ours) and the shadow's section are drawn from the views they declare.
        expect(await page.locator('#gate-sections section').evaluateAll((all) => all.map((e) => e.getAttribute('data-section')))).toEqual([
          'reservations',
          'positions_unknown',
          'shadow',
        ]);

        await page.screenshot({ path: `${ARTIFACTS}/status-page.png`, fullPage: true });
      } finally {
        await context.close();
      }
    });

    it('draws the heat as steps between decisions, with its thresholds, and shows a value and time on hover', async () => {
      const context = await browser.newContext({
        httpCredentials: { username: USER, password: PASSWORD },
        viewport: { width: 1360, height: 1000 },
      });
      try {
        const page = await context.newPage();
        await page.goto(`${address}/`);
        await untilText(page, '#heat-bucket', 'HOT');
        const chart = page.locator('#heat-chart svg');
        // A step line: only horizontal and vertical moves after the start.
        expect(await chart.locator('path.heat-line').getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+([HV][\d.]+)+$/);
        expect(await chart.locator('line.threshold').count()).toBe(2);
        expect(await chart.locator('text.axis-label', { hasText: '0.25' }).count()).toBe(1);
        expect(await chart.locator('text.axis-label', { hasText: '0.65' }).count()).toBe(1);

        const tip = chart.locator('[data-testid="heat-tip"]');
        expect(await tip.getAttribute('visibility')).toBe('hidden');
        await chart.locator('.heat-point').last().hover();
        await waitFor(async () => (await tip.getAttribute('visibility')) === 'visible', { what: 'the tooltip to show' });
        expect(((await tip.textContent()) ?? '').trim()).toMatch(new RegExp(`^heat 0\\.8250 HOT · ${ZONED_TIME.source}$`));
        // Each point also carries its value and time as a title, for screen readers and a long press.
        expect(await chart.locator('.heat-point title').last().textContent()).toMatch(
          new RegExp(`^heat 0\\.8250 HOT at ${ZONED_TIME.source}$`),
        );
      } finally {
        await context.close();
      }
    });

    it('fits a 390 px phone screen: the page body never scrolls sideways', async () => {
      const context = await browser.newContext({
        httpCredentials: { username: USER, password: PASSWORD },
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 3,
        isMobile: true,
        hasTouch: true,
      });
      try {
        const page = await context.newPage();
        await page.goto(`${address}/`);
        await untilText(page, 'tr[data-gate="heat-gate"] td[data-field="mode"]', 'shadow');
        await waitFor(async () => (await page.locator('#decisions-body tr[data-id]').count()) > 0, { what: 'decisions rendered' });
        // Evaluated as page source: this project's TypeScript has no DOM types.
        // On failure, name what sticks out past the right edge.
        const wider = await page.evaluate(
          "[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > 390 && !e.closest('.scroll')).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className : '') + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 12)",
        );
        expect(await page.evaluate('document.documentElement.scrollWidth'), JSON.stringify(wider)).toBeLessThanOrEqual(390);
        // The wide tables scroll inside their own box instead.
        const gatesBox = (await page.evaluate(
          "(() => { const box = document.querySelector('[data-testid=gates]').parentElement; return { outer: box.clientWidth, overflow: getComputedStyle(box).overflowX }; })()",
        )) as { outer: number; overflow: string };
        expect(gatesBox.outer).toBeLessThanOrEqual(390);
        expect(gatesBox.overflow).toBe('auto');
        // One CSS pixel a pixel: at the phone's 3 device pixels a full page is 9 times the pixels to
        // encode, which took over Playwright's 30 s on a loaded CI machine.
        await page.screenshot({ path: `${ARTIFACTS}/status-page-390.png`, fullPage: true, scale: 'css' });
        await page.screenshot({ path: `${ARTIFACTS}/status-page-390-top.png` });
      } finally {
        await context.close();
      }
    });
  });
});

/**
 * The headline against a runtime of its own, so its state follows only what each test does:
 * OK while healthy, BLOCKING with the kill switch or without Redis, DEGRADED with a dead letter.
 */
describe('the status headline in headless Chromium', () => {
  let redis: TestRedis;
  let runtime: Runtime;
  let address: string;
  let browser: Browser;
  let page: Page;

  async function status(): Promise<GatesStatus> {
    const response = await runtime.server.inject({ url: '/status', headers: AUTH });
    return response.json() as GatesStatus;
  }

  /**
   * Waits until the headline reads `state` and, when given, exactly `expected` as its reasons: on a
   * loaded machine a health probe late for its deadline is a passing reason of its own (a gate not
   * consuming while Redis's health is unknown), so the page is read until it says what the test set.
   */
  async function headlineReads(state: string, expected?: readonly string[]): Promise<void> {
    await waitFor(
      async () => {
        const seen = ((await page.locator('#headline-state').textContent()) ?? '').trim();
        if (seen !== state) return false;
        return expected === undefined || JSON.stringify(await reasons()) === JSON.stringify(expected);
      },
      { what: `the headline to read ${state}${expected === undefined ? '' : ` with reasons ${JSON.stringify(expected)}`}` },
    );
  }

  async function reasons(): Promise<string[]> {
    return (await page.locator('#headline-reasons li').allTextContents()).map((t) => t.trim());
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
    redis = await startTestRedis();
    runtime = await createTestRuntime(
      redis.url,
      { HANDLERS: 'position-snapshot,heat-gate', DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD },
      allHandlers,
      { httpPlugins },
    );
    address = await runtime.start();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({
      httpCredentials: { username: USER, password: PASSWORD },
      viewport: { width: 1360, height: 1000 },
    });
    page = await context.newPage();
    await page.goto(`${address}/`);
  });

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await redis?.stop();
  });

  it('says OK on a healthy runtime', async () => {
    await headlineReads('OK', []);
    expect((await status()).headline).toEqual({ state: 'OK', reasons: [] });
  });

  it('says BLOCKING with the reason once quantum:kill is set, and OK again once it is cleared', async () => {
    await redis.client.set(keys.killSwitch, '1');
    await headlineReads('BLOCKING', ['BLOCKING kill switch quantum:kill is on: the governor blocks every plan']);

    await redis.client.del(keys.killSwitch);
    await headlineReads('OK');
  });

  it('says BLOCKING when quantum:kill cannot be read (a hash), as the governor blocks every plan, on the page and in /status', async () => {
    await redis.client.hset(keys.killSwitch, 'on', '1');
    try {
      const wrongType = 'unreadable: WRONGTYPE Operation against a key holding the wrong kind of value';
      await headlineReads('BLOCKING', [
        `BLOCKING kill switch quantum:kill is ${wrongType}: the governor fails closed and blocks every plan`,
      ]);
      expect(((await page.locator('#kill-switch').first().textContent()) ?? '').trim()).toContain(
        `ACTIVE: every plan is blocked ${wrongType}`,
      );
      const s = await status();
      expect(s.kill_switch).toEqual({ active: true, value: null, unreadable: wrongType });
      expect(s.errors).toEqual([]);
    } finally {
      await redis.client.del(keys.killSwitch);
    }
    await headlineReads('OK');
  });

  it('says once that Redis is unreachable, with the time it began, when Redis is stopped', async () => {
    await redis.kill();
    try {
      await headlineReads('BLOCKING');
      await waitFor(async () => (await reasons()).some((r) => r.includes('sections could not be read')), { what: 'the sections to fail' });
      const redisLines = (await reasons()).filter((r) => /redis/i.test(r));
      expect(redisLines).toHaveLength(1);
      expect(redisLines[0]).toMatch(
        new RegExp(`^BLOCKING Redis unreachable \\(.+\\); .*\\d+ sections could not be read since ${ZONED_TIME.source}$`),
      );
      const s = await status();
      expect(s.redis_fault?.since).toBeLessThanOrEqual(Date.now());
      // Which Redis is out, as configured and without a password: the on-call engineer's first question.
      expect(s.redis_fault?.address).toBe(`${redis.url}/0`);
      expect(s.errors).toEqual([
        expect.stringMatching(
          new RegExp(`^redis unreachable at ${redis.url}/0 since ${ZONED_TIME.source} \\(.+\\): \\d+ sections could not be read$`),
        ),
      ]);
      expect(await page.locator('#banner').isHidden()).toBe(true);
    } finally {
      await redis.start();
    }
    await headlineReads('OK');
  });

  it('says DEGRADED with a dead letter present', async () => {
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'bad', 'symbol', 'not a symbol', 'action', 'FULL_CLOSE');
    await headlineReads('DEGRADED');
    expect(await reasons()).toEqual(
      expect.arrayContaining([
        `DEGRADED 1 dead letter in ${streams.deadLetter} (quantum-gates dlq list)`,
        expect.stringMatching(/^DEGRADED heat-gate: 1 message dead-lettered in the last \d+ (s|min)$/),
      ]),
    );
    expect((await status()).headline.state).toBe('DEGRADED');
  });
});
