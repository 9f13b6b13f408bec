import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { redisTape } from '../../app/tape/store.js';
import { SHADOW_STATE, shadowDecisionsKey } from '../../app/shadow/namespace.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { childBaseEnv } from '../support/own-dirs.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { startRuntime, waitFor } from '../support/runtime.js';
import { seedBook, sendTraffic } from '../support/shadow-traffic.js';
import { runCli } from './cli-harness.js';

const bin = resolve(import.meta.dirname, '../../bin/quantum-gates.js');

/** `quantum-gates shadow ...` as an operator starts it, stopped with SIGTERM once `until` holds. */
async function shadowUntil(args: readonly string[], env: Record<string, string>, until: () => Promise<boolean>) {
  const child = spawn(bin, ['shadow', ...args], {
    env: { ...childBaseEnv(), LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise<number | null>((done) => child.once('close', done));

  try {
    await waitFor(until, { timeoutMs: 30_000, what: `quantum-gates shadow ${args.join(' ')} (${stderr})` });
  } finally {
    child.kill('SIGTERM');
  }
  return { code: await closed, stdout, stderr };
}

describe('quantum-gates shadow beside the current release', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  async function besideLive(shadowEnv: Record<string, string> = {}, extra: readonly string[] = [], beside = 'current') {
    const r = redis.client;
    runtime = await startRuntime(redis.url, { HANDLERS: 'position-snapshot,heat-gate,governor,governor-cooldown' }, undefined, {
      tape: redisTape({}),
    });
    await seedBook(r);
    let sent = false;
    const run = await shadowUntil(
      ['--beside', beside, '--gate', 'heat-gate', '--gate', 'governor', '--for', '10m', '--port', '0', ...extra],
      { REDIS_URL: redis.url, ...shadowEnv },
      async () => {
        if (!sent) {
          if ((await r.hmget(SHADOW_STATE, 'governor:since', 'heat-gate:since')).includes(null)) return false;
          await sendTraffic(r);
          sent = true;
        }
        return (await r.xlen(shadowDecisionsKey('governor'))) === 5 && (await r.xlen(shadowDecisionsKey('heat-gate'))) === 4;
      },
    );
    return run;
  }

  it('runs beside the live gates, reports every input decided alike, and shadow report --json says so', async () => {
    const record = join(mkdtempSync(join(tmpdir(), 'qg-shadow-')), 'shadow.json');
    const run = await besideLive({}, ['--min-decisions', '9', '--record', record]);
    expect(run.stderr).toContain('writes under quantum:shadow: only');
    // What release.sh reads to allow a switch.
    expect(JSON.parse(readFileSync(record, 'utf8'))).toMatchObject({
      incumbent: 'current',
      min_decisions: 9,
      compared: 9,
      unexplained: 0,
      passed: true,
    });
    expect(run.stdout).toContain('Compared 9: 9 the same, 0 documented, 0 unexplained; 0 unpaired');
    expect(run.code).toBe(0);

    const report = await runCli(['shadow', 'report', '--json', '--grace', '0s'], { REDIS_URL: redis.url });
    expect(report.code).toBe(0);
    const json = JSON.parse(report.stdout) as Record<string, unknown> & { pairs: unknown[] };
    expect(json).toMatchObject({ incumbent: 'current', compared: 9, same: 9, documented: 0, unexplained: 0, unpaired: 0 });
    expect(json.pairs).toHaveLength(9);
  });

  // docs/shadow.md "Run it": without the Python services, the gates npm start runs stand in for
  // them (they write the permit and block keys and the calibrated stream where upstream's code does),
  // and --beside python reads them there as it reads upstream's (test/integration/shadow-python*.test.ts
  // read upstream's own bytes).
  it('runs --beside python with the live gates standing in for the Python services: every input the same', async () => {
    const run = await besideLive({}, [], 'python');
    expect(run.stdout).toContain('Shadow beside the Python services');
    expect(run.stdout).toContain('Compared 8: 8 the same, 0 documented, 0 unexplained; 0 unpaired');
    expect(run.code).toBe(0);
  });

  it('runs --beside python with the live gates standing in, and names a planted difference', async () => {
    const run = await besideLive({ GOV_MAX_TOTAL_NOTIONAL_USDT: '1000000' }, [], 'python');
    expect(run.stdout).toContain('governor open-sol SOLUSDT');
    expect(run.stdout).toMatch(/[1-9]\d* unexplained/);
    expect(run.code).toBe(1);
  });

  it('names a planted difference and exits 1, on the run and on the report', async () => {
    const run = await besideLive({ GOV_MAX_TOTAL_NOTIONAL_USDT: '1000000' });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('2 unexplained');
    expect(run.stdout).toContain('governor open-sol SOLUSDT');
    expect(run.stdout).toContain('event=block reason=total_notional_exceeded → event=permit reason=all_gates_passed');

    const report = await runCli(['shadow', 'report', '--grace', '0s'], { REDIS_URL: redis.url });
    expect(report.code).toBe(1);
    expect(report.stdout).toContain('Unexplained verdict differences');
    expect(report.stdout).toContain('emit quantum:stream:governor.events event: block → permit');
  });
});
