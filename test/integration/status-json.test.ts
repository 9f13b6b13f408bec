import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { httpPlugins } from '../../app/http-plugins.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime, waitFor } from '../support/runtime.js';
import { runCli } from './cli-harness.js';

/**
 * The proof that moving the status sections into the gates changed no value: GET /status, and the
 * CLI's `status --json` and `status` for the same seeded Redis, against files captured before the
 * move. Only what differs from run to run is normalised (times of the run, the instance, the
 * commit). Entries carry fixed stream ids, so every decision and point has a fixed time.
 * UPDATE_GOLDEN=1 rewrites the files (then review the diff: it is the change you made).
 */
const USER = 'ops';
const PASSWORD = 'correct-horse-battery';
const AUTH = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };
const GOLDEN = resolve(import.meta.dirname, 'golden');
/** Far in the future, so a budget computed "then" is never stale, whenever the test runs. */
const FRESH_SEC = 4_102_444_800;

function golden(name: string, actual: string): void {
  const file = resolve(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

/** Replaces what belongs to this run: its clock, its instance and the commit it was built from. */
function normaliseJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, v: unknown) => {
      if (key === 'generated_at' && typeof v === 'number') return '<now>';
      if (key === 'instance' && v !== null) return '<instance>';
      if (key === 'build' && v !== null) return '<build>';
      if (key === 'since' && typeof v === 'number') return '<since>';
      if (key === 'host_ahead_ms' && typeof v === 'number') return '<offset>';
      if (typeof v === 'string') return normaliseText(v);
      return v;
    }),
  );
}

function normaliseText(text: string): string {
  return text
    .replace(/computed \d+ (s|min|h) ago/g, 'computed <ago> ago')
    .replace(/status at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/g, 'status at <now>')
    .replace(/since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/g, 'since <since>')
    .replace(/^version .*$/m, '<version and instance>')
    .replace(/^clock {3}this host [+-]?\d+ ms against/m, 'clock   this host <offset> against');
}

describe('the status output for a seeded Redis matches the golden files', () => {
  let redis: TestRedis;
  let runtime: Runtime;
  let env: Record<string, string>;

  beforeAll(async () => {
    redis = await startTestRedis();
    const r = redis.client;
    await r.hset(keys.portfolioHeat, { heat: '0.33', bucket: 'WARM', updated_at: '1700000100000' });
    const calibrated = (ms: number, fields: Record<string, string>) =>
      r.xadd(streams.harvestCalibrated, `${ms}-0`, ...Object.entries(fields).flat());
    const decision = { calibrated: 'true', mode: 'shadow', heat_bucket: 'WARM', heat_value: '0.33' };
    await calibrated(1_700_000_001_000, {
      ...decision,
      plan_id: 'p1',
      symbol: 'BTCUSDT',
      original_action: 'FULL_CLOSE',
      calibrated_action: 'PARTIAL_75',
      reason: 'portfolio_heat_warm',
    });
    await calibrated(1_700_000_002_000, {
      ...decision,
      plan_id: 'p2',
      symbol: 'ETHUSDT',
      original_action: 'PARTIAL_50',
      calibrated_action: 'PARTIAL_50',
      reason: 'partial_unchanged',
    });
    await calibrated(1_700_000_003_000, {
      ...decision,
      plan_id: 'p3',
      symbol: 'ETHUSDT',
      original_action: 'FULL_CLOSE',
      calibrated_action: 'PARTIAL_25',
      reason: 'heat_unavailable',
      heat_value: '0.0',
      heat_bucket: 'HOT',
      fail_closed_cause: 'heat_missing',
    });
    await calibrated(1_700_000_004_000, {
      ...decision,
      plan_id: 'p4',
      symbol: 'SOLUSDT',
      original_action: 'FULL_CLOSE',
      calibrated_action: 'FULL_CLOSE',
      reason: 'portfolio_heat_hot',
      heat_value: '0.8',
      heat_bucket: 'HOT',
    });

    const event = (ms: number, fields: Record<string, string>) =>
      r.xadd(streams.governorEvents, `${ms}-0`, ...Object.entries(fields).flat());
    await event(1_700_000_001_500, {
      event: 'permit',
      plan_id: 'g1',
      symbol: 'ETHUSDT',
      action: 'FULL_CLOSE',
      kind: 'close',
      reason: 'close_bypasses_caps',
      apply_mode: 'testnet',
    });
    await event(1_700_000_002_500, {
      event: 'block',
      plan_id: 'g2',
      symbol: 'BTCUSDT',
      action: 'OPEN_LONG',
      kind: 'open',
      reason: 'symbol_cooldown',
    });
    await event(1_700_000_003_500, { event: 'AUTO_DISARM', reason: 'governor_errors', errors: '5', window_sec: '60', ts: '1700000003' });
    await event(1_700_000_004_500, { json: JSON.stringify({ decision: 'DENIED', symbol: 'XRPUSDT', block_reason: 'budget' }) });

    for (const [symbol, notional] of [
      ['BTCUSDT', '5000'],
      ['ETHUSDT', '-2000'],
      ['SOLUSDT', '100'],
      ['XRPUSDT', '50'],
    ] as const) {
      await r.sadd(keys.activePositions, symbol);
      await r.hset(keys.position(symbol), { position_notional_usd: notional });
    }
    await r.hset(keys.budget('BTCUSDT'), { budget_usd: '1800.50', stress_factor: '0.425', mode: 'shadow', timestamp: String(FRESH_SEC) });
    await r.hset(keys.budget('ETHUSDT'), { budget_usd: '2500', stress_factor: '0.2', mode: 'enforce', timestamp: String(FRESH_SEC) });
    await r.hset(keys.budget('SOLUSDT'), { budget_usd: '900', stress_factor: '0.3', mode: 'shadow', timestamp: '1700000000' });

    await r.set(keys.killSwitch, 'maybe');
    await r.set(keys.governorDisarm, JSON.stringify({ reason: 'governor_errors', errors: 5, window_sec: 60 }));
    await r.xadd(streams.deadLetter, '1700000005000-0', 'handler', 'heat-gate', 'error', 'invalid input');

    const sample = (ms: number, id: string, horizon: string, sec: number, decidedAt: number, pnl: string | null) =>
      r.xadd(
        streams.gatesOutcome,
        `${ms}-0`,
        ...Object.entries({
          decision_id: id,
          kind: 'heat_downgrade',
          symbol: 'ETHUSDT',
          plan_id: id,
          horizon,
          horizon_sec: String(sec),
          decided_at: String(decidedAt),
          sampled_at: String(decidedAt + sec * 1000),
          exposure_usd: '3000',
          entry_price: '2000',
          ...(pnl === null ? { price_missing: '1' } : { price: '2100', price_missing: '0', pnl_usd: pnl, worst_pnl_usd: pnl }),
        }).flat(),
      );
    await sample(1_700_000_010_000, 'heat:1-0', '5m', 300, 1_000, '40');
    await sample(1_700_000_011_000, 'heat:1-0', '4h', 14_400, 1_000, '150');
    await sample(1_700_000_012_000, 'heat:2-0', '4h', 14_400, 2_000, '-300.25');
    await sample(1_700_000_013_000, 'heat:3-0', '4h', 14_400, 3_000, null);

    runtime = await createTestRuntime(
      redis.url,
      { HANDLERS: 'position-snapshot,heat-gate', DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD },
      allHandlers,
      { httpPlugins },
    );
    const address = await runtime.start();
    env = { QG_URL: address, DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD };
    await waitFor(async () => !JSON.stringify(await status()).includes('the runtime is starting'), { what: 'the runtime to be ready' });
  });

  afterAll(async () => {
    await runtime?.stop();
    await redis?.stop();
  });

  async function status(): Promise<unknown> {
    const response = await runtime.server.inject({ url: '/status', headers: AUTH });
    expect(response.statusCode).toBe(200);
    return response.json();
  }

  /** Key order aside (JSON objects have none), the same values: keys are sorted before comparing. */
  function canonical(value: unknown): string {
    const sorted = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(sorted)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([k, x]) => [k, sorted(x)]),
            )
          : v;
    return `${JSON.stringify(sorted(normaliseJson(value)), null, 2)}\n`;
  }

  it('GET /status', async () => {
    golden('status.json', canonical(await status()));
  });

  it('quantum-gates status --json', async () => {
    const result = await runCli(['status', '--json'], env);
    expect(result.code, result.stderr).toBe(4);
    golden('status-cli.json', canonical(JSON.parse(result.stdout)));
  });

  it('quantum-gates status', async () => {
    const result = await runCli(['status'], env);
    expect(result.code, result.stderr).toBe(4);
    golden('status-cli.txt', normaliseText(result.stdout));
  });
});
