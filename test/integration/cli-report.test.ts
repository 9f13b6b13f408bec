import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { positionSnapshot } from '../../handlers/position-snapshot.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';
import { runCli, runCliJson } from './cli-harness.js';

interface Report {
  entries: number;
  total: { fullClose: number; downgraded: number; downgradedTo: Record<string, number> };
  byBucket: Record<string, { fullClose: number; downgraded: number; downgradedTo: Record<string, number> }>;
  bySymbol: Record<string, { decisions: number; fullClose: number }>;
  heat: { count: number; histogram: { from: number; to: number | null; count: number }[] };
}

const HOUR = 3_600_000;

describe('quantum-gates report shadow', () => {
  const redis = usePrivateRedis();
  let env: Record<string, string>;
  const running: Runtime[] = [];

  const calibrated = (ms: number, fields: Record<string, string>) =>
    redis.client.xadd(
      streams.harvestCalibrated,
      `${ms}-0`,
      ...Object.entries({
        symbol: 'ETHUSDT',
        mode: 'shadow',
        original_action: 'FULL_CLOSE',
        reason: 'portfolio_heat_cold',
        ...fields,
      }).flat(),
    );

  beforeAll(() => {
    env = { REDIS_URL: redis.url };
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });

  it('counts only the decisions inside --since', async () => {
    const now = Date.now();
    await calibrated(now - 48 * HOUR, { calibrated_action: 'PARTIAL_25', heat_bucket: 'COLD', heat_value: '0.1' });
    await calibrated(now - 2 * HOUR, { calibrated_action: 'PARTIAL_75', heat_bucket: 'WARM', heat_value: '0.4', symbol: 'BTCUSDT' });
    await calibrated(now - HOUR, { calibrated_action: 'FULL_CLOSE', heat_bucket: 'HOT', heat_value: '0.9' });

    const day = await runCliJson<Report>(['report', 'shadow', '--since', '24h'], env);
    expect(day.entries).toBe(2);
    expect(day.total).toMatchObject({ fullClose: 2, downgraded: 1, downgradedTo: { PARTIAL_75: 1 } });
    expect(Object.keys(day.bySymbol)).toEqual(['BTCUSDT', 'ETHUSDT']);

    expect((await runCliJson<Report>(['report', 'shadow', '--since', '3d'], env)).entries).toBe(3);
    expect((await runCliJson<Report>(['report', 'shadow', '--since', '90m'], env)).entries).toBe(1);
  });

  it('prints a text report and a CSV', async () => {
    await calibrated(Date.now() - HOUR, { calibrated_action: 'PARTIAL_25', heat_bucket: 'COLD', heat_value: '0.1' });

    const text = await runCli(['report', 'shadow'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('1 decisions, 1 FULL_CLOSE proposals, 1 downgraded (100.0%): 1 to PARTIAL_25');
    expect(text.stdout).toMatch(/^COLD\s+1\s+1\s+1\s+100\.0%\s+1$/m);

    const csv = await runCli(['report', 'shadow', '--csv'], env);
    expect(csv.code).toBe(0);
    expect(csv.stdout.split('\n')).toEqual(
      expect.arrayContaining(['section,group,metric,value', 'bucket,COLD,downgraded,1', 'heat_histogram,0.10-0.15,count,1']),
    );
  });

  it('lists every decision, kept and downgraded, one per row with --csv --per-decision, with the keys of --json --per-decision', async () => {
    const at = Date.now() - HOUR;
    await calibrated(at, { plan_id: 'p-cold', calibrated_action: 'PARTIAL_25', heat_bucket: 'COLD', heat_value: '0.1' });
    await calibrated(at + 1, {
      plan_id: 'p-hot',
      symbol: 'BTCUSDT',
      calibrated_action: 'FULL_CLOSE',
      heat_bucket: 'HOT',
      heat_value: '0.9',
      reason: 'portfolio_heat_hot',
    });

    const json = await runCliJson<{ decisions: Record<string, unknown>[] }>(['report', 'shadow', '--per-decision'], env);
    expect(json.decisions).toEqual([
      {
        id: `${at}-0`,
        ts: new Date(at).toISOString(),
        plan_id: 'p-cold',
        symbol: 'ETHUSDT',
        heat: 0.1,
        bucket: 'COLD',
        original_action: 'FULL_CLOSE',
        calibrated_action: 'PARTIAL_25',
        reason: 'portfolio_heat_cold',
        fail_closed_cause: '',
        mode: 'shadow',
      },
      {
        id: `${at + 1}-0`,
        ts: new Date(at + 1).toISOString(),
        plan_id: 'p-hot',
        symbol: 'BTCUSDT',
        heat: 0.9,
        bucket: 'HOT',
        original_action: 'FULL_CLOSE',
        calibrated_action: 'FULL_CLOSE',
        reason: 'portfolio_heat_hot',
        fail_closed_cause: '',
        mode: 'shadow',
      },
    ]);

    const csv = await runCli(['report', 'shadow', '--csv', '--per-decision'], env);
    expect(csv.code).toBe(0);
    const [header, ...rows] = csv.stdout.trim().split('\n');
    expect(header!.split(',')).toEqual(Object.keys(json.decisions[0]!));
    expect(rows).toEqual([
      `${at}-0,${new Date(at).toISOString()},p-cold,ETHUSDT,0.1,COLD,FULL_CLOSE,PARTIAL_25,portfolio_heat_cold,,shadow`,
      `${at + 1}-0,${new Date(at + 1).toISOString()},p-hot,BTCUSDT,0.9,HOT,FULL_CLOSE,FULL_CLOSE,portfolio_heat_hot,,shadow`,
    ]);
  });

  it.each([
    ['--per-decision alone', ['report', 'shadow', '--per-decision'], /--per-decision goes with --csv or --json/],
    ['an unreadable --since', ['report', 'shadow', '--since', 'yesterday'], /--since must be a duration such as 24h/],
    ['--json with --csv', ['report', 'shadow', '--json', '--csv'], /choose one of --json and --csv/],
    ['a bad --bin-width', ['report', 'shadow', '--bin-width', '2'], /--bin-width must be a number in \(0, 1\]/],
    ['--until before --since', ['report', 'shadow', '--since', '1h', '--until', '2h'], /--until is before --since/],
    ['an unknown report', ['report', 'pnl'], /unknown report command "pnl"/],
  ])('refuses %s with exit 2', async (_case, args, message) => {
    const result = await runCli(args, env);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('fails with exit 1 when Redis is unreachable', async () => {
    const result = await runCli(['report', 'shadow'], { REDIS_URL: 'redis://127.0.0.1:1' });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach Redis');
  });

  it("runs seed 000's scenarios with the CLI alone and reports them", async () => {
    running.push(await startRuntime(redis.url, {}, [positionSnapshot, heatGate]));
    const inject = async (...args: string[]) => {
      const result = await runCli(['inject', ...args], env);
      expect(result.code, result.stderr).toBe(0);
    };
    // Two positions: Σ|notional|·sigma = 1800·0.15 + 5000·0.12 = 870.
    await inject('snapshot', '--symbol', 'ETHUSDT', '--position-notional-usd', '1800', '--sigma', '0.15');
    await inject('snapshot', '--symbol', 'BTCUSDT', '--position-notional-usd', '5000', '--sigma', '0.12');
    await waitFor(async () => (await redis.client.scard(keys.activePositions)) === 2, { what: 'positions applied' });
    const decided = (planId: string) =>
      waitFor(async () => (await readStream(redis.client, streams.harvestCalibrated)).find((e) => e.plan_id === planId), { what: planId });

    await inject('portfolio', '--equity-usd', '10000'); // heat 0.087: COLD
    await inject('proposal', '--symbol', 'ETHUSDT', '--action', 'FULL_CLOSE', '--plan-id', 'test1');
    expect(await decided('test1')).toMatchObject({ calibrated_action: 'PARTIAL_25', heat_bucket: 'COLD' });

    await inject('portfolio', '--equity-usd', '3000'); // heat 0.29: WARM
    await inject('proposal', '--symbol', 'ETHUSDT', '--action', 'FULL_CLOSE', '--plan-id', 'test2');
    expect(await decided('test2')).toMatchObject({ calibrated_action: 'PARTIAL_75', heat_bucket: 'WARM' });

    await inject('portfolio', '--equity-usd', '1000'); // heat 0.87: HOT
    await inject('proposal', '--symbol', 'BTCUSDT', '--action', 'FULL_CLOSE', '--plan-id', 'test3');
    expect(await decided('test3')).toMatchObject({ calibrated_action: 'FULL_CLOSE', heat_bucket: 'HOT' });

    await inject('proposal', '--symbol', 'ETHUSDT', '--action', 'PARTIAL_50', '--plan-id', 'test4');
    expect(await decided('test4')).toMatchObject({ calibrated_action: 'PARTIAL_50' });

    const report = await runCliJson<Report>(['report', 'shadow', '--since', '1h'], env);
    expect(report.entries).toBe(4);
    expect(report.total).toMatchObject({ fullClose: 3, downgraded: 2, downgradedTo: { PARTIAL_25: 1, PARTIAL_75: 1 } });
    expect(report.byBucket.COLD).toMatchObject({ fullClose: 1, downgraded: 1 });
    expect(report.byBucket.WARM).toMatchObject({ fullClose: 1, downgraded: 1 });
    expect(report.byBucket.HOT).toMatchObject({ fullClose: 1, downgraded: 0 });
    expect(report.heat.count).toBe(4);
  });
});
