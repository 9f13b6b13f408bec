import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import type { Decision } from '../../handlers/decisions.js';
import { httpPlugins } from '../../app/http-plugins.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { encodeGovernorEvent, type GovernorEvent } from '../../schemas/governor-event.js';
import { keys, streams } from '../../schemas/keys.js';
import { screenshotOfLive } from '../support/live-page.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime, waitFor } from '../support/runtime.js';
import { runCli } from './cli-harness.js';

/**
 * The status page shows the why (issue #25 item 4): at a desktop's 1280 px and a phone's 390 px,
 * every column of the decisions is on screen and whole, a block shows the figures it was decided
 * on, an operator's event shows who and why, the heat chart's labels are readable, and a page
 * where nothing needs action shows no alarm colour. Governor events are written as the governor
 * and the CLI write them (encodeGovernorEvent); the calibrated entries as the heat gate writes
 * them (handlers/heat-gate).
 */
const USER = 'ops';
const PASSWORD = 'correct-horse-battery';
const AUTH = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'];
const ARTIFACTS = 'test-artifacts';
const LONG_REASON =
  'exchange maintenance announced for 02:00 UTC; holding every plan until the order books are back and the positions are reconciled by hand';
const PLAN_ID = '5b0d6a9e-3c1f-4f7e-9a43-0d2c61f8b7aa';

interface CellBox {
  readonly field: string;
  readonly text: string;
  readonly left: number;
  readonly right: number;
  readonly scrollWidth: number;
  readonly clientWidth: number;
}

interface Layout {
  readonly viewport: number;
  readonly pageWidth: number;
  readonly decisionsBox: { readonly scrollWidth: number; readonly clientWidth: number };
  readonly gatesBox: { readonly scrollWidth: number; readonly clientWidth: number };
  /** The Gates table's Source cells. */
  readonly sources: readonly CellBox[];
  readonly rows: Record<string, readonly CellBox[]>;
  /** Rendered size (CSS px on screen) of each text of the heat chart. */
  readonly chartFonts: readonly number[];
  readonly alarms: readonly string[];
}

/** Measured in the page (as page source: this project's TypeScript has no DOM types). */
const MEASURE = `(() => {
  const rows = {};
  for (const tr of document.querySelectorAll('#decisions-body tr[data-id]')) {
    rows[tr.getAttribute('data-id')] = [...tr.querySelectorAll('td')].map((td) => {
      const box = td.getBoundingClientRect();
      return { field: td.getAttribute('data-field'), text: td.textContent.trim(), left: box.left, right: box.right,
        scrollWidth: td.scrollWidth, clientWidth: td.clientWidth };
    });
  }
  const svg = document.querySelector('#heat-chart svg');
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  const box = document.querySelector('[data-testid=decisions]').parentElement;
  const gates = document.querySelector('[data-testid=gates]').parentElement;
  return {
    gatesBox: { scrollWidth: gates.scrollWidth, clientWidth: gates.clientWidth },
    sources: [...document.querySelectorAll('#gates-body td[data-field=source]')].map((td) => {
      const b = td.getBoundingClientRect();
      return { field: 'source', text: td.textContent.trim(), left: b.left, right: b.right, scrollWidth: td.scrollWidth, clientWidth: td.clientWidth };
    }),
    viewport: window.innerWidth,
    pageWidth: document.documentElement.scrollWidth,
    decisionsBox: { scrollWidth: box.scrollWidth, clientWidth: box.clientWidth },
    rows,
    chartFonts: [...svg.querySelectorAll('text')].filter((t) => t.textContent !== '' && t.closest('[visibility=hidden]') === null)
      .map((t) => parseFloat(getComputedStyle(t).fontSize) * scale),
    alarms: [...document.querySelectorAll('.badge-bad, .banner:not([hidden])')].map((e) => e.textContent.trim()),
  };
})()`;

describe('the status page shows the why, at 1280 px and at 390 px', () => {
  let redis: TestRedis;
  let runtime: Runtime;
  let address: string;
  let browser: Browser;
  const ids: Record<'block' | 'total' | 'p28' | 'killOn' | 'replay' | 'failClosed', string> = {
    block: '',
    p28: '',
    total: '',
    killOn: '',
    replay: '',
    failClosed: '',
  };

  async function decisions(): Promise<readonly Decision[]> {
    const response = await runtime.server.inject({ url: '/status', headers: AUTH });
    return ((response.json() as { decisions: readonly Decision[] | null }).decisions ?? []) as readonly Decision[];
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
    mkdirSync(ARTIFACTS, { recursive: true });
    redis = await startTestRedis();
    const r = redis.client;
    const event = async (fields: GovernorEvent) =>
      (await r.xadd(streams.governorEvents, '*', ...Object.entries(encodeGovernorEvent(fields)).flat())) ?? '';
    const now = Date.now();
    const decided = {
      symbol: 'BTCUSDT',
      action: 'OPEN_LONG',
      decision: 'EXECUTE',
      side: 'LONG',
      source_id: '1700000000000-0',
      timestamp: String(now / 1000),
      apply_mode: 'testnet',
      kind: 'open',
      computed_qty: '0.01',
      kill_score: '0.2',
      plan_age_sec: '1.5',
      exec_count_hour: '0',
      exec_count_5min: '0',
      open_positions: '1',
    };
    // Seeded as the heat gate writes its decisions: a HOT one, then a fail-closed one with a long
    // reason. Ids of their own: a row is known by its entry id, which two streams could share.
    let calibratedAt = now - 10_000;
    const calibrated = (fields: Record<string, string>) =>
      r.xadd(streams.harvestCalibrated, `${(calibratedAt += 1_000)}-0`, ...Object.entries(fields).flat());
    await r.hset(keys.portfolioHeat, { heat: '0.8', bucket: 'HOT', updated_at: String(now) });
    await calibrated({
      plan_id: 'h1',
      symbol: 'ETHUSDT',
      original_action: 'FULL_CLOSE',
      calibrated_action: 'FULL_CLOSE',
      calibrated: 'true',
      heat_value: '0.8',
      heat_bucket: 'HOT',
      reason: 'portfolio_heat_hot',
      mode: 'shadow',
    });
    ids.failClosed =
      (await calibrated({
        plan_id: 'h2',
        symbol: 'ETHUSDT',
        original_action: 'FULL_CLOSE',
        calibrated_action: 'PARTIAL_25',
        calibrated: 'true',
        heat_value: '0.0',
        heat_bucket: 'HOT',
        reason: 'heat_unavailable',
        fail_closed_cause: 'heat_missing',
        mode: 'shadow',
      })) ?? '';
    ids.block = await event({
      event: 'block',
      ...decided,
      plan_id: PLAN_ID,
      reason: 'notional_per_trade_exceeded',
      computed_notional: '1000',
      total_notional: '150',
    });
    ids.total = await event({
      event: 'block',
      ...decided,
      plan_id: 'p-total',
      symbol: 'SOLUSDT',
      reason: 'total_notional_exceeded',
      computed_notional: '180',
      total_notional: '2150.5',
    });
    // A P2.8 block, with the inputs the governor records (handlers/governor/decision-inputs.ts).
    ids.p28 = await event({
      event: 'block',
      ...decided,
      plan_id: 'p-budget',
      reason: 'p28_budget_violation',
      computed_notional: '150',
      decision_inputs: JSON.stringify({
        v: 1,
        facts: { notional: 150 },
        snap: { symbol_notional: 5000, budget: { usd: 1800.5, mode: 'enforce', at: null }, violation: false, own: null },
      }),
    });
    ids.killOn = await event({
      event: 'kill_on',
      actor: 'alice',
      host: 'ops-1',
      ts: String(now),
      reason: LONG_REASON,
      target: 'redis 127.0.0.1:6379 db 0',
      previous: '(absent)',
    });
    ids.replay = await event({
      event: 'dlq_replay',
      actor: 'bob',
      host: 'ops-2',
      ts: String(now),
      reason: 'producer fixed',
      count: '3',
      ids: '1-0,2-0,3-0',
      dlq_stream: streams.deadLetter,
    });

    // A position over its fresh, enforced budget: the governor's business, not an alarm.
    await r.sadd(keys.activePositions, 'BTCUSDT');
    await r.hset(keys.position('BTCUSDT'), { position_notional_usd: '5000' });
    await r.hset(keys.budget('BTCUSDT'), {
      symbol: 'BTCUSDT',
      budget_usd: '1800.50',
      stress_factor: '0.425',
      mode: 'enforce',
      timestamp: String(Math.floor(now / 1000)),
    });

    // Every gate hosted here (the Gates table as long as it gets), the governor with its default caps ($200 per trade, $2,000 in total).
    runtime = await createTestRuntime(redis.url, { DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD }, allHandlers, { httpPlugins });
    address = await runtime.start();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await redis?.stop();
  });

  it("puts a block's figures and an operator's name and reason into the decisions", async () => {
    const byId = new Map((await decisions()).map((d) => [d.id, d]));
    expect(byId.get(ids.block)).toMatchObject({
      kind: 'block',
      reason: 'notional_per_trade_exceeded',
      detail: 'open: $1,000 > $200 per trade',
      mode: 'testnet',
    });
    expect(byId.get(ids.total)?.detail).toBe('open: book $2,150.5 ≥ $2,000 total');
    expect(byId.get(ids.killOn)).toMatchObject({
      kind: 'event',
      action: 'kill_on',
      reason: LONG_REASON,
      detail: 'by alice@ops-1 on redis 127.0.0.1:6379 db 0, was (absent)',
    });
    expect(byId.get(ids.replay)).toMatchObject({
      action: 'dlq_replay',
      reason: 'producer fixed',
      detail: `by bob@ops-2: 3 entries of ${streams.deadLetter}`,
    });
  });

  it('quantum-gates status shows the same details in the terminal', async () => {
    const result = await runCli(['status'], { QG_URL: address, DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('open: $1,000 > $200 per trade');
    // A plan id whole, to paste into grep or dlq (it was cut to 12 characters).
    expect(result.stdout).toContain(PLAN_ID);
    expect(result.stdout).toContain('open: position $5,000 + $150 > budget $1,800.5 by $3,349.5');
    expect(result.stdout).toContain('kill_on');
    expect(result.stdout).toContain('by alice@ops-1 on redis 127.0.0.1:6379 db 0, was (absent)');
  });

  // The operator opens the page for what the gates decide: the latest decisions start on the first
  // screen of a desktop and within the second of a phone, whatever else the page shows above them.
  it.each([
    ['1280x800', 1, 1280, 800, false],
    ['390x844', 2, 390, 844, true],
  ] as const)('at %s the latest decisions start within %i screen(s)', async (name, screens, width, height, mobile) => {
    const page = await open(width, height, mobile);
    try {
      const top = (await page.evaluate(
        `document.querySelector('section[aria-labelledby="h-decisions"]').getBoundingClientRect().top + window.scrollY`,
      )) as number;
      await page.screenshot({ path: `${ARTIFACTS}/status-decisions-${name}.png` });
      console.log(`status page ${name}: the decisions start ${(top / height).toFixed(2)} screens down (${Math.round(top)} px)`);
      expect(top / height).toBeLessThan(screens);
    } finally {
      await page.context().close();
    }
  });

  async function open(width: number, height: number, mobile: boolean): Promise<Page> {
    const context = await browser.newContext({
      httpCredentials: { username: USER, password: PASSWORD },
      viewport: { width, height },
      ...(mobile ? { deviceScaleFactor: 3, isMobile: true, hasTouch: true } : {}),
    });
    const page = await context.newPage();
    await page.goto(`${address}/`);
    await waitFor(async () => (await page.locator(`#decisions-body tr[data-id="${ids.replay}"]`).count()) === 1, {
      what: 'the decisions rendered',
    });
    await waitFor(async () => (await page.locator('#heat-chart svg').count()) === 1, { what: 'the heat chart drawn' });
    return page;
  }

  /** Every cell of the rows under test: inside the viewport, and nothing cut inside it. */
  function expectWhole(layout: Layout): void {
    expect(layout.pageWidth, 'the page scrolls sideways').toBeLessThanOrEqual(layout.viewport);
    expect(layout.decisionsBox.scrollWidth, 'the decisions scroll sideways in their box').toBeLessThanOrEqual(
      layout.decisionsBox.clientWidth,
    );
    for (const id of Object.values(ids)) {
      const cells = layout.rows[id];
      expect(cells, `row ${id}`).toHaveLength(9);
      for (const c of cells ?? []) {
        const where = `${c.field} of ${id} ("${c.text.slice(0, 40)}")`;
        expect(c.left, where).toBeGreaterThanOrEqual(0);
        expect(c.right, where).toBeLessThanOrEqual(layout.viewport);
        expect(c.scrollWidth, where).toBeLessThanOrEqual(c.clientWidth);
      }
    }
  }

  function field(layout: Layout, id: string, name: string): string {
    return layout.rows[id]?.find((c) => c.field === name)?.text ?? '';
  }

  it.each([
    ['1280', 1280, 900, false],
    ['390', 390, 844, true],
  ] as const)('at %s px every column is on screen and whole, and the chart labels are readable', async (name, width, height, mobile) => {
    const page = await open(width, height, mobile);
    try {
      const layout = (await page.evaluate(MEASURE)) as Layout;
      await page.screenshot({ path: `${ARTIFACTS}/status-layout-${name}.png`, fullPage: true, scale: 'css' });
      // Section by section too, one CSS pixel a pixel: small enough to look at whole.
      for (const section of ['gates', 'heat', 'budgets', 'decisions'])
        await screenshotOfLive(page, `section[aria-labelledby="h-${section}"]`, {
          path: `${ARTIFACTS}/status-layout-${name}-${section}.png`,
          scale: 'css',
        });
      expect(layout.viewport).toBe(width);
      expectWhole(layout);

      // The figures, the operator and the long reason are there in full, not cut to "total_notion…".
      expect(field(layout, ids.block, 'detail')).toBe('open: $1,000 > $200 per trade');
      expect(field(layout, ids.total, 'reason')).toBe('total_notional_exceeded');
      expect(field(layout, ids.p28, 'detail')).toBe('open: position $5,000 + $150 > budget $1,800.5 by $3,349.5');
      // The Gates table's Source (stream → group) whole on screen, its box not scrolling sideways.
      expect(layout.gatesBox.scrollWidth, 'the gates table scrolls sideways').toBeLessThanOrEqual(layout.gatesBox.clientWidth);
      expect(layout.sources.map((c) => c.text)).toContain(`${streams.applyPlan} → governor`);
      for (const c of layout.sources) {
        expect(c.right, c.text).toBeLessThanOrEqual(layout.viewport);
        expect(c.scrollWidth, c.text).toBeLessThanOrEqual(c.clientWidth);
      }
      expect(field(layout, ids.killOn, 'action')).toBe('kill_on');
      expect(field(layout, ids.killOn, 'reason')).toBe(LONG_REASON);
      expect(field(layout, ids.killOn, 'detail')).toBe('by alice@ops-1 on redis 127.0.0.1:6379 db 0, was (absent)');
      expect(field(layout, ids.failClosed, 'reason')).toBe('heat_unavailable (fail-closed: heat_missing)');
      // The newest heat decision failed closed: the heat it wrote (0.0) was never measured.
      expect(await page.locator('#heat-value').textContent()).toBe('unknown (heat_missing)');
      expect(await page.locator('section[aria-labelledby="h-heat"]').textContent()).not.toContain('No heat-gate decisions yet');

      expect(layout.chartFonts.length).toBeGreaterThan(0);
      for (const size of layout.chartFonts) expect(size).toBeGreaterThanOrEqual(10);

      expect(await page.locator('tr[data-symbol="BTCUSDT"] td[data-field="within"]').textContent(), 'a position over its budget').toBe(
        'OVER budget',
      );
      // Blocks, a HOT heat, an enforcing governor, a symbol over budget: normal states, none in an alarm colour.
      expect(layout.alarms).toEqual([]);
      expect(await page.locator('#headline-state').textContent()).toBe('OK');
    } finally {
      await page.context().close();
    }
  });
});
