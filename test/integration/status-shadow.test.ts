import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { httpPlugins } from '../../app/http-plugins.js';
import { ShadowHost } from '../../app/shadow/host.js';
import { shadowMetrics } from '../../app/shadow/metrics.js';
import { SHADOW_STATE, shadowDecisionsKey } from '../../app/shadow/namespace.js';
import { redisTape } from '../../app/tape/store.js';
import { pairRound } from '../../cli/shadow/live.js';
import { currentRelease } from '../../cli/shadow/report.js';
import { governor } from '../../handlers/governor/index.js';
import { systemClock } from '../../runtime/host/index.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';
import { seedBook, sendTraffic } from '../support/shadow-traffic.js';
import { streams } from '../../schemas/keys.js';
import { encodeOutcome } from '../../schemas/outcome.js';

const USER = 'ops';
const PASSWORD = 'correct-horse-battery';
const CHROMIUM = '/usr/bin/chromium';

describe("the status page's shadow section", () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  let shadow: ShadowHost | undefined;
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    await shadow?.stop();
    await shadow?.close();
    await runtime?.stop();
    browser = undefined;
    shadow = undefined;
    runtime = undefined;
  });

  it('shows what was compared and the unexplained differences side by side, in GET /status and in headless Chromium', async () => {
    const r = redis.client;
    runtime = await startRuntime(
      redis.url,
      { HANDLERS: 'position-snapshot,heat-gate,governor,governor-cooldown', DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD, PORT: '0' },
      undefined,
      { tape: redisTape({}), httpPlugins },
    );
    // A planted difference: the shadow's governor runs with another total cap.
    shadow = new ShadowHost({
      base: r,
      handlers: [governor],
      env: { GOV_MAX_TOTAL_NOTIONAL_USDT: '1000000' },
      host: systemClock,
      consumer: 'shadow-page',
      blockMs: 100,
    });
    await waitFor(async () => (await r.exists(streams.applyPlan)) === 1, { what: 'the live groups' });
    shadow.start();
    await waitFor(async () => (await r.hget(SHADOW_STATE, 'governor:since')) !== null, { what: 'the shadow group' });
    await seedBook(r);
    await sendTraffic(r);
    await waitFor(async () => (await r.xlen(shadowDecisionsKey('governor'))) === 5, { what: 'the shadow decided the plans' });
    await waitFor(
      async () => (await readStream(r, streams.governorEvents)).filter((e) => e.event === 'permit' || e.event === 'block').length === 5,
      {
        what: 'the incumbent decided the plans',
      },
    );
    await shadow.stop();
    // The incumbent's tape holds its five decisions (written within its 50 ms), then one pairing counts them.
    await waitFor(async () => (await currentRelease.decisions(r, 'governor', '0-0')).size === 5, { what: "the incumbent's tape" });
    // What the outcome follow-up sampled of the incumbent's block of open-sol at 5 m (handlers/outcomes): the open fell
    // $12.50, which the block kept out; the shadow would have permitted it.
    await r.xadd(
      streams.gatesOutcome,
      '*',
      ...Object.entries(
        encodeOutcome({
          decision_id: `gov:${Date.now()}-0`,
          kind: 'governor_block',
          symbol: 'SOLUSDT',
          plan_id: 'open-sol',
          bucket: '',
          mode: 'enforce',
          proposed_action: 'ENTRY_PROPOSED',
          decided_action: 'block',
          horizon: '5m',
          horizon_sec: 300,
          decided_at: Date.now(),
          sampled_at: Date.now() + 5 * 60_000,
          exposure_usd: -150,
          entry_price: 150,
          price: 137.5,
          pnl_usd: 12.5,
          worst_pnl_usd: 12.5,
        }),
      ).flat(),
    );
    expect(await pairRound(r, currentRelease, shadowMetrics(), Date.now(), 0)).toEqual({ counted: 5, unexplained: 2 });

    const auth = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };
    const status = (await runtime.server.inject({ method: 'GET', url: '/status', headers: auth })).json() as {
      shadow: Record<string, unknown>;
    };
    expect(status.shadow).toMatchObject({ state: 'running', incumbent: 'current', compared: 5, same: 3, unexplained: 2, unpaired: 0 });
    expect(status.shadow.last_unexplained).toHaveLength(2);
    // Priced as `shadow report` prices it: permitting the open takes back what the block kept out.
    const sol = 'the shadow would have permitted 1 plan the incumbent blocked (open-sol)';
    expect(status.shadow.priced).toEqual([
      {
        gate: 'governor',
        difference: sol,
        pnl: expect.stringMatching(/^5m: 1 priced, 0 no price, 0 no sample; total -\$12\.50 .*not enough independent data/),
      },
      { gate: 'governor', difference: sol, pnl: '1h: 0 priced, 0 no price, 1 no sample; no PnL known' },
      { gate: 'governor', difference: sol, pnl: '4h: 0 priced, 0 no price, 1 no sample; no PnL known' },
    ]);
    expect(status.shadow.last_unexplained).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          gate: 'governor',
          symbol: 'SOLUSDT',
          incumbent: 'event=block reason=total_notional_exceeded',
          shadow: 'handled',
        }),
        expect.objectContaining({
          gate: 'governor',
          symbol: 'SOLUSDT',
          incumbent: 'event=block reason=total_notional_exceeded',
          shadow: 'event=permit reason=all_gates_passed',
        }),
      ]),
    );

    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
    const page = await (await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD } })).newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const address = `http://127.0.0.1:${(runtime.server.server.address() as { port: number }).port}`;
    await page.goto(`${address}/`);
    const section = page.locator('section[data-section="shadow"]');
    await waitFor(async () => (await section.count()) === 1, { what: 'the shadow section drawn' });
    const text = (await section.textContent()) ?? '';
    expect(text).toContain('Decisions compared');
    expect(text).toContain('event=permit reason=all_gates_passed');
    expect(text).toContain('event=block reason=total_notional_exceeded');
    expect(text).toContain('emit quantum:stream:governor.events event');
    expect(text).toContain('the shadow would have permitted 1 plan the incumbent blocked (open-sol)');
    expect(text).toContain('5m: 1 priced, 0 no price, 0 no sample; total -$12.50');
    expect(errors).toEqual([]);
  });
});
