import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { ConfigError } from '../../schemas/env.js';
import { dashboardPlugin, handlerQueueNames } from '../../app/http/dashboard.js';
import { statusPlugin } from '../../app/http/status-routes.js';
import { httpPlugins } from '../../app/http-plugins.js';
import type { Runtime, RuntimeServices } from '../../runtime/host/runtime.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime, waitFor } from '../support/runtime.js';

const USER = 'ops';
const PASSWORD = 'correct-horse-battery';
const TOKEN = 'tok-0123456789abcdef-dashboard';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const RIGHT = basic(USER, PASSWORD);
const VIEWER_USER = 'watch';
const VIEWER_PASSWORD = 'look-but-do-not-touch';
const VIEWER = basic(VIEWER_USER, VIEWER_PASSWORD);
const WITH_VIEWER = {
  DASHBOARD_USER: USER,
  DASHBOARD_PASSWORD: PASSWORD,
  DASHBOARD_VIEWER_USER: VIEWER_USER,
  DASHBOARD_VIEWER_PASSWORD: VIEWER_PASSWORD,
};

interface BoardQueue {
  name: string;
  readOnlyMode: boolean;
  allowRetries: boolean;
  allowCompletedRetries: boolean;
  isPaused: boolean;
}

// The gates the issue names, as far as handlers/index.ts has them today.
const WANTED = ['position-snapshot', 'heat-gate', 'risk-budget', 'governor', 'governor-cooldown'];
const hosted = allHandlers.filter((h) => WANTED.includes(h.name));
const queueNames = handlerQueueNames(hosted);

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

function runtimeWith(redis: TestRedis, env: Record<string, string>): Promise<Runtime> {
  return createTestRuntime(redis.url, { HANDLERS: hosted.map((h) => h.name).join(','), ...env }, allHandlers, { httpPlugins });
}

describe('operator pages behind authentication (server.inject)', () => {
  let redis: TestRedis;
  const runtimes: Runtime[] = [];
  let withBasic: Runtime;
  let withToken: Runtime;
  let withNothing: Runtime;
  let loopbackOnly: Runtime;
  let loopbackByDefault: Runtime;
  let withViewer: Runtime;

  beforeAll(async () => {
    redis = await startTestRedis();
    withBasic = await runtimeWith(redis, { DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD });
    withViewer = await runtimeWith(redis, WITH_VIEWER);
    withToken = await runtimeWith(redis, { DASHBOARD_TOKEN: TOKEN });
    withNothing = await runtimeWith(redis, { DASHBOARD_ALLOW_LOOPBACK: '0' });
    loopbackByDefault = await runtimeWith(redis, {});
    loopbackOnly = await runtimeWith(redis, { DASHBOARD_ALLOW_LOOPBACK: '1' });
    runtimes.push(withBasic, withToken, withNothing, loopbackOnly, loopbackByDefault, withViewer);
  });
  afterAll(async () => {
    for (const runtime of runtimes) await runtime.stop();
    await redis?.stop();
  });

  const PROTECTED = [
    '/admin/queues',
    '/admin/queues/',
    '/admin/queues/static/images/logo.svg',
    '/admin/queues/api/queues',
    '/',
    '/status',
    '/status-page/app.js',
    '/status-page/style.css',
  ];

  it.each(PROTECTED)('refuses %s without credentials, with a Basic challenge', async (url) => {
    const response = await withBasic.server.inject({ url });
    expect(response.statusCode).toBe(401);
    expect(String(response.headers['www-authenticate'])).toContain('Basic realm="quantum-gates"');
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it.each(PROTECTED)('refuses %s with a wrong password', async (url) => {
    const response = await withBasic.server.inject({ url, headers: { authorization: basic(USER, `${PASSWORD}x`) } });
    expect(response.statusCode).toBe(401);
  });

  it.each(PROTECTED)('serves %s with the right user and password', async (url) => {
    const response = await withBasic.server.inject({ url, headers: { authorization: RIGHT } });
    expect(response.statusCode).toBe(200);
  });

  it.each(['/metrics', '/health'])('leaves %s open for Prometheus and probes', async (url) => {
    expect((await withBasic.server.inject({ url })).statusCode).toBe(200);
    expect((await withNothing.server.inject({ url })).statusCode).toBe(200);
  });

  it('lists the queue of every hosted schedule or queue handler in the board API', async () => {
    const response = await withBasic.server.inject({ url: '/admin/queues/api/queues', headers: { authorization: RIGHT } });
    const queues = (response.json() as { queues: { name: string; description?: string }[] }).queues;
    expect(queues.map((q) => q.name).sort()).toEqual([...queueNames].sort());
    // Each says what it is for: the handler's own description.
    for (const queue of queues)
      expect(queue.description).toBe(hosted.find((h) => h.trigger.kind !== 'stream' && h.trigger.queue === queue.name)?.description);
    expect(queues.every((q) => (q.description ?? '').length > 0)).toBe(true);
  });

  it("serves the board's page without asking any outside font host", async () => {
    const page = await withBasic.server.inject({ url: '/admin/queues', headers: { authorization: RIGHT } });

    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<div id="root">');
    expect(page.body).not.toMatch(/fonts\.(googleapis|gstatic)\.com/);
    expect(page.body).not.toMatch(/(href|src)="https?:\/\//);
  });

  it('refuses to retry a completed job (its effect already happened), one by one or all at once', async () => {
    const queue = withBasic.services.jobs.queue('qg-probe-completed');
    await queue.add('probe', { n: 1 }, { jobId: 'done-1' });
    const job = await queue.getJob('done-1');
    // Marked completed by hand: no worker consumes this probe queue.
    await redis.client
      .multi()
      .lrem(`bull:qg-probe-completed:wait`, 0, 'done-1')
      .zadd(`bull:qg-probe-completed:completed`, Date.now(), 'done-1')
      .exec();
    expect(await queue.getJobState(job!.id!)).toBe('completed');
    await withBasic.server.inject({ url: '/admin/queues/api/queues', headers: { authorization: RIGHT } }); // the board picks the queue up

    const one = await withBasic.server.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/qg-probe-completed/done-1/retry',
      headers: { authorization: RIGHT },
    });
    const all = await withBasic.server.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/qg-probe-completed/retry/completed',
      headers: { authorization: RIGHT },
    });

    expect(one.statusCode).toBe(409);
    expect(all.statusCode).toBe(409);
    expect(await queue.getJobState('done-1')).toBe('completed');
  });

  it('shows a queue the process opened later for ctx.schedule, without it being named anywhere', async () => {
    await withBasic.services.jobs.add([
      { queue: 'qg-probe-scheduled', name: 'probe', data: { symbol: 'BTCUSDT' }, delayMs: 3_600_000, jobId: 'probe-1' },
    ]);
    const response = await withBasic.server.inject({ url: '/admin/queues/api/queues', headers: { authorization: RIGHT } });
    const queues = (response.json() as { queues: { name: string; counts: Record<string, number> }[] }).queues;
    expect(queues.find((q) => q.name === 'qg-probe-scheduled')?.counts.delayed).toBe(1);
  });

  it('forbids a cross-site change even with valid credentials (CSRF), and allows the same change same-origin', async () => {
    const queue = queueNames[0] ?? 'qg-probe-scheduled';
    const url = `/admin/queues/api/queues/${encodeURIComponent(queue)}/pause`;
    const crossSite = await withBasic.server.inject({
      method: 'PUT',
      url,
      headers: { authorization: RIGHT, origin: 'https://evil.example', host: 'localhost:80' },
    });
    expect(crossSite.statusCode).toBe(403);
    const sameOrigin = await withBasic.server.inject({
      method: 'PUT',
      url,
      headers: { authorization: RIGHT, origin: 'http://localhost:80', host: 'localhost:80' },
    });
    expect(sameOrigin.statusCode).toBe(200);
    await withBasic.server.inject({ method: 'PUT', url: url.replace(/pause$/, 'resume'), headers: { authorization: RIGHT } });
  });

  it.each([
    ['a bearer token', `Bearer ${TOKEN}`, 200],
    ['the token as Basic password (browsers)', basic('anyone', TOKEN), 200],
    ['a wrong bearer token', `Bearer ${TOKEN}-wrong`, 401],
    ['no credentials', undefined, 401],
  ])('with DASHBOARD_TOKEN, %s → %i', async (_name, authorization, code) => {
    const headers = authorization === undefined ? {} : { authorization };
    expect((await withToken.server.inject({ url: '/admin/queues', headers })).statusCode).toBe(code);
    expect((await withToken.server.inject({ url: '/status', headers })).statusCode).toBe(code);
  });

  it('records each board write with its actor, host and time on the governor events stream; a refused one records nothing', async () => {
    const actions = async () =>
      (await redis.client.xrange('quantum:stream:governor.events', '-', '+'))
        .map(([, fields]) => Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i]!, fields[2 * i + 1]!])))
        .filter((event) => event.event === 'bull_board');
    const before = (await actions()).length;
    const url = `/admin/queues/api/queues/${queueNames[0]}/clean/completed`;

    expect(
      (await withBasic.server.inject({ method: 'PUT', url, headers: { authorization: basic(USER, 'wrong-password') } })).statusCode,
    ).toBe(401);
    const done = await withBasic.server.inject({ method: 'PUT', url, headers: { authorization: RIGHT } });

    expect(done.statusCode).toBeLessThan(400);
    // onResponse runs once the answer is sent, so the record lands just after inject resolves.
    await waitFor(async () => (await actions()).length > before);
    const recorded = (await actions()).slice(before);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({
      event: 'bull_board',
      request: `PUT ${url}`,
      actor: USER,
      status: String(done.statusCode),
      reason: '',
    });
    expect(recorded[0]!.host).toMatch(/\S/);
    expect(Number(recorded[0]!.ts)).toBeGreaterThan(1_700_000_000_000);
  });

  const boardQueues = async (runtime: Runtime, authorization: string) =>
    ((await runtime.server.inject({ url: '/admin/queues/api/queues', headers: { authorization } })).json() as { queues: BoardQueue[] })
      .queues;

  it("shows the viewer the same board at the same URL, every queue in bull-board's readOnlyMode", async () => {
    const page = await withViewer.server.inject({ url: '/admin/queues', headers: { authorization: VIEWER } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<div id="root">');
    expect(page.body).toContain('quantum-gates (read-only)');
    expect(
      (await withViewer.server.inject({ url: '/admin/queues/static/images/logo.svg', headers: { authorization: VIEWER } })).statusCode,
    ).toBe(200);
    expect((await withViewer.server.inject({ url: '/status', headers: { authorization: VIEWER } })).statusCode).toBe(200);

    const seen = await boardQueues(withViewer, VIEWER);
    expect(seen.map((q) => q.name).sort()).toEqual([...queueNames].sort());
    expect(seen.every((q) => q.readOnlyMode && !q.allowRetries && !q.allowCompletedRetries)).toBe(true);
  });

  it('keeps the operator board writable next to the viewer, with no retry of completed jobs offered', async () => {
    const page = await withViewer.server.inject({ url: '/admin/queues', headers: { authorization: RIGHT } });
    expect(page.body).not.toContain('(read-only)');
    const seen = await boardQueues(withViewer, RIGHT);
    expect(seen.length).toBe(queueNames.length);
    expect(seen.every((q) => !q.readOnlyMode && q.allowRetries && !q.allowCompletedRetries)).toBe(true);
  });

  it('refuses (403) every write the viewer sends, before bull-board sees it, and records none', async () => {
    const queue = queueNames[0]!;
    const before = (await redis.client.xrange('quantum:stream:governor.events', '-', '+')).length;
    const writes = [
      ['PUT', `/admin/queues/api/queues/${queue}/pause`],
      ['PUT', `/admin/queues/api/queues/${queue}/retry/failed`],
      ['PUT', `/admin/queues/api/queues/${queue}/clean/completed`],
      ['PUT', '/admin/queues/api/queues/pause'],
      ['POST', `/admin/queues/api/queues/${queue}/add`],
      ['PUT', '/admin/queues/api/queues/risk-budget/job-schedulers/risk-budget%3Atick/remove'],
      ['PUT', '/admin/queues/api/queues/risk-budget/empty'],
    ] as const;
    for (const [method, url] of writes) {
      const response = await withViewer.server.inject({
        method,
        url,
        headers: { authorization: VIEWER },
        ...(method === 'POST' ? { payload: { name: 'x', data: {} } } : {}),
      });
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect((response.json() as { message: string }).message).toContain('read-only');
    }
    expect((await boardQueues(withViewer, RIGHT)).find((q) => q.name === queue)?.isPaused).toBe(false);
    expect(await withViewer.services.jobs.queue(queue).isPaused()).toBe(false);
    expect((await redis.client.xrange('quantum:stream:governor.events', '-', '+')).length).toBe(before);
    // A wrong viewer password is no viewer: asked to authenticate, like any wrong credential.
    expect(
      (await withViewer.server.inject({ url: '/admin/queues', headers: { authorization: basic(VIEWER_USER, `${VIEWER_PASSWORD}x`) } }))
        .statusCode,
    ).toBe(401);
  });

  it('still lets the operator write on the same runtime', async () => {
    const queue = queueNames[0]!;
    const paused = await withViewer.server.inject({
      method: 'PUT',
      url: `/admin/queues/api/queues/${queue}/pause`,
      headers: { authorization: RIGHT },
    });
    expect(paused.statusCode).toBe(200);
    expect(await withViewer.services.jobs.queue(queue).isPaused()).toBe(true);
    await withViewer.server.inject({ method: 'PUT', url: `/admin/queues/api/queues/${queue}/resume`, headers: { authorization: RIGHT } });
    expect(await withViewer.services.jobs.queue(queue).isPaused()).toBe(false);
  });

  it.each([
    [{ DASHBOARD_VIEWER_USER: VIEWER_USER }, /^DASHBOARD_VIEWER_PASSWORD: must be set/],
    [
      { DASHBOARD_VIEWER_USER: VIEWER_USER, DASHBOARD_VIEWER_PASSWORD: 'short' },
      /^DASHBOARD_VIEWER_PASSWORD: must be at least 8 characters \(value hidden\)/,
    ],
    [{ ...WITH_VIEWER, DASHBOARD_VIEWER_USER: USER }, /^DASHBOARD_VIEWER_USER: must differ from DASHBOARD_USER/],
  ])('refuses to start with the viewer setting %j, naming the variable', async (env, line) => {
    const problems = await runtimeWith(redis, env).then(
      async (runtime) => {
        await runtime.stop();
        return [];
      },
      (error: unknown) => (error instanceof ConfigError ? error.problems : [String(error)]),
    );
    expect(problems).toEqual([expect.stringMatching(line)]);
  });

  it.each(['/admin/queues', '/admin/queues/api/queues', '/', '/status'])(
    'without credentials configured, %s is disabled with a message naming the variables that enable it',
    async (url) => {
      const response = await withNothing.server.inject({ url, headers: { authorization: RIGHT } });
      expect(response.statusCode).toBe(404);
      expect((response.json() as { message: string }).message).toContain('set DASHBOARD_USER and DASHBOARD_PASSWORD, or DASHBOARD_TOKEN');
    },
  );

  it('with nothing configured on a loopback HOST, opens the read-only status page to local clients (the first run shows the product)', async () => {
    expect((await loopbackByDefault.server.inject({ url: '/', remoteAddress: '127.0.0.1' })).statusCode).toBe(200);
    expect((await loopbackByDefault.server.inject({ url: '/status', remoteAddress: '127.0.0.1' })).statusCode).toBe(200);
    expect((await loopbackByDefault.server.inject({ url: '/status', remoteAddress: '10.0.0.7' })).statusCode).toBe(403);
    expect((await loopbackByDefault.server.inject({ url: '/admin/queues', remoteAddress: '127.0.0.1' })).statusCode).toBe(404);
    // Credentials, once configured, are asked for: they switch the loopback default off.
    expect((await withBasic.server.inject({ url: '/status', remoteAddress: '127.0.0.1' })).statusCode).toBe(401);
  });

  it('with DASHBOARD_ALLOW_LOOPBACK=1 on a loopback HOST, opens only the status page, only to local clients', async () => {
    expect((await loopbackOnly.server.inject({ url: '/status', remoteAddress: '127.0.0.1' })).statusCode).toBe(200);
    expect((await loopbackOnly.server.inject({ url: '/', remoteAddress: '::1' })).statusCode).toBe(200);
    expect((await loopbackOnly.server.inject({ url: '/status', remoteAddress: '10.0.0.7' })).statusCode).toBe(403);
    // A request relayed by a proxy on this host, whichever header it forwards, is not local.
    for (const headers of [
      { 'x-forwarded-for': '203.0.113.9' },
      { 'x-real-ip': '203.0.113.9' },
      { via: '1.1 proxy' },
      { 'x-forwarded-host': 'gates.example' },
      { forwarded: 'for=203.0.113.9' },
    ])
      expect(
        (await loopbackOnly.server.inject({ url: '/status', remoteAddress: '127.0.0.1', headers })).statusCode,
        JSON.stringify(headers),
      ).toBe(403);
    const board = await loopbackOnly.server.inject({ url: '/admin/queues', remoteAddress: '127.0.0.1' });
    expect(board.statusCode).toBe(404);
  });

  it.each([
    ['the status page', (services: RuntimeServices) => statusPlugin(services, new URL('../../app/status-page/', import.meta.url))],
    ['the dashboard', dashboardPlugin],
  ])('refuses to start %s unauthenticated on a non-loopback HOST, naming the variables', (_name, plugin) => {
    const services = { env: { DASHBOARD_ALLOW_LOOPBACK: '1' }, config: { HOST: '0.0.0.0' } } as unknown as RuntimeServices;
    let error: unknown;
    try {
      plugin(services);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^DASHBOARD_ALLOW_LOOPBACK: .*HOST=0\.0\.0\.0.*DASHBOARD_USER and DASHBOARD_PASSWORD, or DASHBOARD_TOKEN/),
    ]);
  });
});

describe('the BullMQ dashboard in headless Chromium', () => {
  let redis: TestRedis;
  let runtime: Runtime;
  let address: string;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
    mkdirSync(ARTIFACTS, { recursive: true });
    redis = await startTestRedis();
    runtime = await runtimeWith(redis, WITH_VIEWER);
    address = await runtime.start();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await redis?.stop();
  });

  /**
   * The status of a navigation's main response. Without credentials Chromium cancels the Basic
   * challenge and reports ERR_INVALID_AUTH_CREDENTIALS instead of a response, so the 401 is read
   * from the response event either way.
   */
  async function navigationStatus(context: BrowserContext, url: string): Promise<{ status: number | undefined; body: string }> {
    const page = await context.newPage();
    const seen = page.waitForResponse((r) => r.url() === url, { timeout: 15_000 });
    const response = await page.goto(url).catch((error: Error) => {
      expect(error.message).toContain('ERR_INVALID_AUTH_CREDENTIALS');
      return null;
    });
    const main = response ?? (await seen);
    return { status: main.status(), body: response ? await response.text() : '' };
  }

  it.each(['/admin/queues', '/admin/queues/static/images/logo.svg', '/admin/queues/api/queues', '/', '/status'])(
    'refuses %s to a browser without credentials or with wrong ones (401)',
    async (path) => {
      const anonymous = await browser.newContext();
      const wrong = await browser.newContext({ httpCredentials: { username: USER, password: `${PASSWORD}-wrong` } });
      try {
        expect((await navigationStatus(anonymous, `${address}${path}`)).status).toBe(401);
        const refused = await navigationStatus(wrong, `${address}${path}`);
        expect(refused.status).toBe(401);
        expect(refused.body).not.toContain('<div id="root"');
      } finally {
        await anonymous.close();
        await wrong.close();
      }
    },
  );

  it('lists every queue the gates use once signed in, including one opened later by ctx.schedule', async () => {
    await runtime.services.jobs.add([
      { queue: 'qg-browser-scheduled', name: 'probe', data: {}, delayMs: 3_600_000, jobId: 'browser-probe-1' },
    ]);
    const context = await browser.newContext({
      httpCredentials: { username: USER, password: PASSWORD },
      viewport: { width: 1360, height: 900 },
    });
    try {
      const page = await context.newPage();
      const response = await page.goto(`${address}/admin/queues`);
      expect(response?.status()).toBe(200);
      for (const name of [...queueNames, 'qg-browser-scheduled']) {
        await page.getByText(name, { exact: true }).first().waitFor({ state: 'visible', timeout: 15_000 });
      }
      // The page fetched its data through the guarded API with the same credentials.
      const apiStatus = await page.evaluate(async () => (await fetch('api/queues')).status);
      expect(apiStatus).toBe(200);
      await page.screenshot({ path: `${ARTIFACTS}/dashboard.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });

  /** A probe queue holding one failed and one completed job, both moved there by hand (no worker). */
  async function probeQueueWithFinishedJobs(name: string): Promise<void> {
    const queue = runtime.services.jobs.queue(name);
    await queue.add('probe', { n: 1 }, { jobId: 'failed-1' });
    await queue.add('probe', { n: 2 }, { jobId: 'done-1' });
    const now = Date.now();
    await redis.client
      .multi()
      .del(`bull:${name}:wait`)
      .zadd(`bull:${name}:failed`, now, 'failed-1')
      .hset(`bull:${name}:failed-1`, 'failedReason', 'probe failure', 'finishedOn', String(now), 'attemptsMade', '1')
      .zadd(`bull:${name}:completed`, now, 'done-1')
      .hset(`bull:${name}:done-1`, 'returnvalue', '{}', 'finishedOn', String(now))
      .exec();
  }

  /** What each button on the page says: its text or aria-label, or "icon:<name>" for bull-board's icon buttons (lucide icons). */
  const buttonLabels = (page: Page) =>
    page.locator('button').evaluateAll((buttons) =>
      buttons.map((b) => {
        const label = (b.getAttribute('role') === 'tab' ? '' : (b.textContent ?? '').trim()) || b.getAttribute('aria-label');
        const icon = /\blucide-([a-z0-9-]+)/.exec(b.querySelector('svg')?.getAttribute('class') ?? '');
        return label || (icon ? `icon:${icon[1]}` : '');
      }),
    );
  const WRITE_BUTTONS = ['Retry all', 'Clean all', 'Promote all', 'icon:refresh-cw', 'icon:trash2', 'icon:pencil'];

  /** The queue's page at a status tab, once its job list has rendered. */
  async function openQueueTab(context: BrowserContext, queue: string, status: 'failed' | 'completed') {
    const page = await context.newPage();
    expect((await page.goto(`${address}/admin/queues/queue/${queue}?status=${status}`))?.status()).toBe(200);
    // The failed job shows its reason; both show their id.
    await page
      .getByText(status === 'failed' ? 'probe failure' : 'done-1', { exact: false })
      .first()
      .waitFor({ state: 'visible', timeout: 15_000 });
    return page;
  }

  it('shows the viewer the board without retry or clean buttons; the operator has them (except retrying completed jobs)', async () => {
    await probeQueueWithFinishedJobs('qg-browser-finished');
    const viewer = await browser.newContext({
      httpCredentials: { username: VIEWER_USER, password: VIEWER_PASSWORD },
      viewport: { width: 1360, height: 900 },
    });
    const operator = await browser.newContext({
      httpCredentials: { username: USER, password: PASSWORD },
      viewport: { width: 1360, height: 900 },
    });
    try {
      const board = await viewer.newPage();
      expect((await board.goto(`${address}/admin/queues`))?.status()).toBe(200);
      for (const name of queueNames) await board.getByText(name, { exact: true }).first().waitFor({ state: 'visible', timeout: 15_000 });

      const viewerFailed = await openQueueTab(viewer, 'qg-browser-finished', 'failed');
      await viewerFailed.screenshot({ path: `${ARTIFACTS}/dashboard-viewer-failed.png`, fullPage: true });
      const viewerSees = await buttonLabels(viewerFailed);
      expect(viewerSees).toContain('Queue info'); // the page did render its controls
      expect(viewerSees.filter((label) => WRITE_BUTTONS.includes(label))).toEqual([]);
      // Sent anyway from the viewer's page, a write is refused by the server.
      const forced = await viewerFailed.evaluate(
        async () => (await fetch('/admin/queues/api/queues/qg-browser-finished/retry/failed', { method: 'PUT' })).status,
      );
      expect(forced).toBe(403);

      const operatorFailed = await openQueueTab(operator, 'qg-browser-finished', 'failed');
      await operatorFailed.screenshot({ path: `${ARTIFACTS}/dashboard-operator-failed.png`, fullPage: true });
      expect(await buttonLabels(operatorFailed)).toEqual(
        expect.arrayContaining(['Retry all', 'Clean all', 'icon:refresh-cw', 'icon:trash2']),
      );
      // A completed job can be cleaned but not retried (allowCompletedRetries: false): its effect already happened.
      const operatorCompleted = await buttonLabels(await openQueueTab(operator, 'qg-browser-finished', 'completed'));
      expect(operatorCompleted).toContain('Clean all');
      expect(operatorCompleted).not.toContain('Retry all');
      expect(operatorCompleted).not.toContain('icon:refresh-cw');
    } finally {
      await viewer.close();
      await operator.close();
    }
  });

  it('links from the status page to the board and shows every hosted gate there', async () => {
    const context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD } });
    try {
      const page = await context.newPage();
      await page.goto(`${address}/`);
      for (const gate of hosted) {
        await page.locator(`tr[data-gate="${gate.name}"]`).waitFor({ timeout: 15_000 });
      }
      const modes = await waitFor(
        async () => {
          const text = await page.locator('tr[data-gate="heat-gate"] td[data-field="mode"]').textContent();
          return text === 'shadow' ? text : undefined;
        },
        { what: 'heat-gate mode on the page' },
      );
      expect(modes).toBe('shadow');
      expect(await page.getByRole('link', { name: 'BullMQ queues' }).getAttribute('href')).toBe('/admin/queues');
    } finally {
      await context.close();
    }
  });
});

describe('the status page before dashboard credentials are set, in headless Chromium', () => {
  let redis: TestRedis;
  let runtime: Runtime;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
    redis = await startTestRedis();
    // Nothing configured on a loopback HOST: the status page is open to this machine, the board is off.
    runtime = await runtimeWith(redis, {});
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await redis?.stop();
  });

  it('its BullMQ link leads to a page saying which credentials to set and where, with a way back; a script still gets the JSON', async () => {
    const address = await runtime.start();
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${address}/`);
      const [response] = await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'BullMQ queues' }).click()]);
      expect(response?.status()).toBe(404);
      expect(response?.headers()['content-type']).toContain('text/html');
      expect(await page.getByTestId('disabled-message').textContent()).toBe(
        'The BullMQ dashboard is disabled: set DASHBOARD_USER and DASHBOARD_PASSWORD, or DASHBOARD_TOKEN to enable it.',
      );
      expect(await page.locator('body').textContent()).toContain('/etc/quantum/quantum-gates.env');
      await page.getByRole('link', { name: 'Gates status' }).click();
      await page.getByRole('link', { name: 'BullMQ queues' }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/');
    } finally {
      await context.close();
    }
    const script = await fetch(`${address}/admin/queues`);
    expect(script.status).toBe(404);
    expect(((await script.json()) as { error: string }).error).toBe('disabled');
  });
});
