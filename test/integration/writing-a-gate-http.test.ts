import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpPlugins } from '../../app/http-plugins.js';
import { spreadGuard, type SpreadGuardStatus } from '../../docs/examples/spread-guard.js';
import { allHandlers } from '../../handlers/index.js';
import type { GatesStatus, SectionDescription } from '../../app/http/status/status.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime, waitFor } from '../support/runtime.js';
import { untilStreamLength } from '../support/until.js';
import { runCli } from './cli-harness.js';

/**
 * The worked example of docs/writing-a-gate.md §17 on the real runtime and HTTP server: added to
 * the gate list and nothing else, its route answers, its section is in GET /status and
 * GET /status/sections, on the page (headless Chromium) and in `quantum-gates status`.
 */
const USER = 'ops';
const PASSWORD = 'correct-horse-battery';
const AUTH = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };
const CHROMIUM = '/usr/bin/chromium';
const INPUT = 'quantum:stream:example.order.intent';
const OUTPUT = 'quantum:stream:example.order.checked';

describe('a new gate with its own route and status section (docs/writing-a-gate.md §17)', () => {
  let redis: TestRedis;
  let runtime: Runtime;
  let address: string;

  async function get(url: string) {
    const response = await runtime.server.inject({ url, headers: AUTH });
    expect(response.statusCode, response.body).toBe(200);
    return response;
  }

  beforeAll(async () => {
    redis = await startTestRedis();
    runtime = await createTestRuntime(
      redis.url,
      { HANDLERS: 'spread-guard', DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD, SPREAD_GUARD_MAX_BPS: '30' },
      // The gate list, as handlers/index.ts would have it with the example registered.
      [...allHandlers, spreadGuard],
      { httpPlugins },
    );
    address = await runtime.start();
    const r = redis.client;
    await r.hset(keys.marketState('BTCUSDT'), { spread_bps: '12', timestamp: String(Math.floor(Date.now() / 1000)) });
    await r.xadd(INPUT, '*', 'plan_id', 'i1', 'symbol', 'BTCUSDT', 'qty', '0.01');
    await r.xadd(INPUT, '*', 'plan_id', 'i2', 'symbol', 'ETHUSDT', 'qty', '0.5');
    await untilStreamLength(r, OUTPUT, 2, { what: 'both intents checked' });
  });

  afterAll(async () => {
    await runtime?.stop();
    await redis?.stop();
  });

  it('serves its declared route', async () => {
    const response = await get('/spread-guard/limits');
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.json()).toEqual({ max_bps: 30, max_age_sec: 30 });
  });

  it('has its section in GET /status, beside the gates it knows nothing of', async () => {
    const status = (await get('/status')).json() as GatesStatus;
    const section = status.spread_guard as SpreadGuardStatus;
    expect(section).toMatchObject({ checked: 2, blocked: 1 });
    expect(section.latest.map((v) => [v.symbol, v.verdict, v.reason])).toEqual([
      ['ETHUSDT', 'BLOCK', 'market_state_missing'],
      ['BTCUSDT', 'ALLOW', 'spread_ok'],
    ]);
    expect(status.errors).toEqual([]);
    // The other gates' sections are still read, though this process hosts none of them.
    expect(status).toHaveProperty('kill_switch', { active: false, value: null });
  });

  it('lists the section and the shapes it is drawn in at GET /status/sections', async () => {
    const sections = (await get('/status/sections')).json() as SectionDescription[];
    const own = sections.find((s) => s.key === 'spread_guard');
    expect(own).toMatchObject({ title: 'Spread guard', gates: ['spread-guard'] });
    expect(own?.views.map((v) => v.shape)).toEqual(['fields', 'table']);
  });

  it('prints it in quantum-gates status', async () => {
    const result = await runCli(['status'], { QG_URL: address, DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Spread guard$/m);
    expect(result.stdout).toMatch(/ UTC {2}ETHUSDT {2}BLOCK {4}market_state_missing$/m);
    expect(result.stdout).toMatch(/^Order intents checked \(latest\) {2}2$/m);
  });

  describe('in headless Chromium', () => {
    let browser: Browser;

    beforeAll(async () => {
      if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('draws the section from its declared views, without the page knowing the gate', async () => {
      const context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD } });
      try {
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(`${address}/`);
        const section = page.locator('section[data-section="spread_guard"]');
        await waitFor(async () => (await section.locator('tbody tr td[data-field="verdict"]').count()) === 2, {
          what: 'the spread guard section to be drawn',
        });
        expect(((await section.locator('h2').textContent()) ?? '').trim()).toBe('Spread guard');
        expect(((await section.locator('td[data-field="blocked"]').textContent()) ?? '').trim()).toBe('1');
        expect(await section.locator('td[data-field="verdict"]').allTextContents()).toEqual(['BLOCK', 'ALLOW']);
        expect(await section.locator('td[data-field="reason"] code').first().textContent()).toBe('market_state_missing');
        expect(await section.locator('td[data-field="at"] time').count()).toBe(2);
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
    });
  });
});
