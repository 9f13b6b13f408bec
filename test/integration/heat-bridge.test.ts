import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupFields } from '../../handlers/heat-bridge/lookup.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { startRuntime, waitFor } from '../support/runtime.js';
import { untilKeys } from '../support/until.js';

/**
 * Seed 004's five proof cases, end to end: a proposal enters quantum:stream:harvest.proposal, the
 * heat gate decides, the bridge writes the lookup keys. The cases build on each other in order.
 */
describe('heat bridge behind the heat gate on a real redis-server (seed 004 proof cases)', () => {
  let redis: TestRedis;
  let runtime: Runtime;

  beforeAll(async () => {
    redis = await startTestRedis();
    // Equity 10 000 and BTCUSDT 1 000 × 0.1 → heat 0.01, COLD: FULL_CLOSE becomes PARTIAL_25.
    await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
    await redis.client.xadd(streams.positionSnapshot, '*', 'symbol', 'BTCUSDT', 'position_notional_usd', '1000', 'sigma', '0.1');
    runtime = await startRuntime(redis.url, { HANDLERS: 'position-snapshot,heat-gate,heat-bridge' });
    await untilKeys(redis.client, [keys.activePositions], () => redis.client.sismember(keys.activePositions, 'BTCUSDT'), {
      what: 'position snapshot applied',
    });
  });
  afterAll(async () => {
    await runtime?.stop();
    await redis.stop();
  });

  const propose = (planId: string, action: string) =>
    redis.client.xadd(
      streams.harvestProposal,
      '*',
      'plan_id',
      planId,
      'symbol',
      'BTCUSDT',
      'action',
      action,
      'trace_id',
      `trace-${planId}`,
    );
  const metricsText = async () => (await runtime.server.inject({ method: 'GET', url: '/metrics' })).body;
  const metricValue = async (series: string) => {
    const line = (await metricsText()).split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };

  it('A, injection: by_plan holds the decision with TTL ≈ 1800, latest carries last_plan_id, the pointer names the plan', async () => {
    await propose('P1', 'FULL_CLOSE');
    // Written with the latest keys and their TTLs in one commit: its first change wakes the check after all of it.
    const byPlan = await untilKeys(
      redis.client,
      [keys.heatByPlan('P1')],
      async () => {
        const hash = await redis.client.hgetall(keys.heatByPlan('P1'));
        return Object.keys(hash).length > 0 ? hash : undefined;
      },
      { what: 'by_plan:P1' },
    );
    expect(Object.keys(byPlan).sort()).toEqual([...lookupFields].sort());
    expect(byPlan).toMatchObject({
      plan_id: 'P1',
      symbol: 'BTCUSDT',
      in_action: 'FULL_CLOSE',
      out_action: 'PARTIAL_25',
      heat_level: 'cold',
      heat_score: '0.01',
      heat_action: 'DOWNGRADE_FULL_TO_PARTIAL',
      recommended_partial: '0.25',
      reason: 'ok',
      mode: 'shadow',
    });
    expect(JSON.parse(byPlan.debug_json!)).toMatchObject({ trace_id: 'trace-P1' });
    for (const key of [keys.heatByPlan('P1'), keys.heatLatest('BTCUSDT'), keys.heatLatestPlanId('BTCUSDT')]) {
      const ttl = await redis.client.ttl(key);
      expect(ttl, key).toBeGreaterThan(1790);
      expect(ttl, key).toBeLessThanOrEqual(1800);
    }
    expect(await redis.client.hgetall(keys.heatLatest('BTCUSDT'))).toMatchObject({ ...byPlan, last_plan_id: 'P1' });
    expect(await redis.client.get(keys.heatLatestPlanId('BTCUSDT'))).toBe('P1');
    const dedupeTtl = await redis.client.ttl(keys.heatBridgeDedupe('P1'));
    expect(dedupeTtl).toBeGreaterThan(110);
    expect(dedupeTtl).toBeLessThanOrEqual(120);
  });

  it('B, dedupe: the same plan_id again is skipped and counted once', async () => {
    expect(await metricValue('p27_dedupe_skips_total')).toBe(0);
    await propose('P1', 'PARTIAL_50');
    await waitFor(async () => (await metricValue('p27_dedupe_skips_total')) === 1, { what: 'p27_dedupe_skips_total 1' });
    // The second decision (PARTIAL_50 in) did not overwrite the first.
    expect(await redis.client.hget(keys.heatByPlan('P1'), 'in_action')).toBe('FULL_CLOSE');
  });

  it('C, latest update: a new plan_id for the same symbol moves the pointer and the latest hash', async () => {
    await propose('P2', 'PARTIAL_50');
    await untilKeys(
      redis.client,
      [keys.heatLatestPlanId('BTCUSDT')],
      async () => (await redis.client.get(keys.heatLatestPlanId('BTCUSDT'))) === 'P2',
      {
        what: 'pointer moved to P2',
      },
    );
    expect(await redis.client.hgetall(keys.heatLatest('BTCUSDT'))).toMatchObject({
      plan_id: 'P2',
      last_plan_id: 'P2',
      out_action: 'PARTIAL_50',
      heat_action: 'NONE',
    });
    expect(await redis.client.hget(keys.heatByPlan('P1'), 'out_action')).toBe('PARTIAL_25');
  });

  it('D, metrics: /metrics reports the p27_* series', async () => {
    // Three decisions consumed, one of them a dedupe skip, which the original did not count. Each
    // bridged one is counted when handled, before the commit C saw land for P2, the last of them.
    expect(await metricValue('p27_in_messages_total')).toBe(2);
    expect(await metricValue('p27_written_total{kind="by_plan"}')).toBe(2);
    expect(await metricValue('p27_written_total{kind="latest_symbol"}')).toBe(2);
    expect(await metricValue('p27_errors_total{stage="write"}')).toBe(0);
    // One loop per batch the runtime read for the bridge (three decisions, proposed one by one).
    const batches = await metricValue('quantum_gates_batch_size_count{handler="heat-bridge"}');
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(await metricValue('p27_loops_total')).toBe(batches);
    expect(await metricValue('p27_last_ts_epoch')).toBeGreaterThan(1_700_000_000);
    expect(await metricValue('p27_lag_ms')).toBeGreaterThanOrEqual(0);
  });

  it('E, health: /ready answers 200 with the bridge consuming and its backlog drained', async () => {
    const ready = await waitFor(
      async () => {
        const response = await runtime.server.inject({ method: 'GET', url: '/ready' });
        const body = response.json() as Record<string, unknown>;
        return response.statusCode === 200 && body['pending:heat-bridge'] === 0 && body['lag:heat-bridge'] === 0 ? body : undefined;
      },
      { what: '/ready 200 with backlog 0' },
    );
    expect(ready).toMatchObject({ status: 'ready', 'consumer:heat-bridge': true });
  });
});
