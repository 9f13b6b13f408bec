import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseRehearsal, type ReleaseRehearsal } from '../../app/build-info.js';
import type { GatesStatus } from '../../app/http/status/status.js';
import { httpPlugins } from '../../app/http-plugins.js';
import { renderGatesStatus } from '../../cli/gates-status-view.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime } from '../support/runtime.js';

const USER = 'ops';
const PASSWORD = 'rehearsal-page-password';
const CHROMIUM = '/usr/bin/chromium';
const ACCEPTED_AT = Date.UTC(2026, 10, 25, 9, 30);
const rehearsal: ReleaseRehearsal = {
  at: Date.UTC(2026, 10, 25, 9, 29),
  release: 'this checkout (0.1.0, 1f53233abcde)',
  decisions: 12_960,
  same: 12_957,
  differ: 3,
  verdicts: 1,
  others: 2,
  unanswerable: 0,
  accepted: { reason: 'HEAT_MIN lowered to 0.2 on purpose', by: 'ops', at: ACCEPTED_AT, scope: 'all' },
};
const LINE =
  'release rehearsed 2026-11-25 09:29:00 UTC on 12960 taped decisions: 3 different (1 in their verdict, 2 only in other fields), 0 unanswerable; accepted by ops at 2026-11-25 09:30:00 UTC: HEAT_MIN lowered to 0.2 on purpose';

describe("the running release's rehearsal", () => {
  let redis: TestRedis;
  let runtime: Runtime;
  let browser: Browser;
  let address: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
    redis = await startTestRedis();
    runtime = await createTestRuntime(redis.url, { HANDLERS: 'heat-gate', DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD }, undefined, {
      httpPlugins,
    });
    address = await runtime.start();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await redis?.stop();
  });

  it('is read from the release directory release.sh wrote it to', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qg-release-'));
    try {
      expect(releaseRehearsal(dir)).toBeUndefined();
      writeFileSync(join(dir, 'rehearsal.json'), JSON.stringify(rehearsal));
      expect(releaseRehearsal(dir)).toEqual(rehearsal);
      writeFileSync(join(dir, 'rehearsal.json'), '{ half a record');
      expect(releaseRehearsal(dir)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is a line of `quantum-gates status` and of the status page, in the same words', async () => {
    const context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD }, timezoneId: 'UTC' });
    try {
      const page = await context.newPage();
      let served: GatesStatus | undefined;
      // The status this process serves, as a release with a rehearsal serves it.
      await page.route('**/status', async (route) => {
        const response = await route.fetch();
        const status = (await response.json()) as GatesStatus;
        served = { ...status, build: { ...status.build!, rehearsal } };
        await route.fulfill({ response, json: served });
      });
      await page.goto(`${address}/`);
      const shown = page.locator('[data-testid="rehearsal"]');
      await shown.filter({ hasText: 'rehearsed' }).waitFor({ timeout: 15_000 });
      expect(((await shown.textContent()) ?? '').replace(/^\s*·\s*/, '')).toBe(LINE);
      expect(renderGatesStatus(served!).split('\n')).toContain(LINE);
    } finally {
      await context.close();
    }
  });
});
