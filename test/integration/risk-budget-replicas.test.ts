import { afterAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys } from '../../schemas/keys.js';
import { jobDoneKey } from '../../runtime/engine/idempotency.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, startRuntime, waitFor } from '../support/runtime.js';

describe('risk-budget with two runtime processes on one Redis', () => {
  const redis = usePrivateRedis();
  const runtimes: Runtime[] = [];
  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.stop()));
  });

  it('computes every scheduler tick exactly once, whichever replica takes it', async () => {
    const r = redis.client;
    await r.hset(keys.portfolioState, { equity_usd: '100000', timestamp: String(Math.floor(Date.now() / 1000)) });
    await r.hset(keys.position('BTCUSDT'), { symbol: 'BTCUSDT', position_notional_usd: '50000', sigma: '1.3' });
    await r.sadd(keys.activePositions, 'BTCUSDT');

    const env = { HANDLERS: 'risk-budget', BUDGET_COMPUTE_INTERVAL_SEC: '1' };
    const [a, b] = [await startRuntime(redis.url, env), await startRuntime(redis.url, env)];
    runtimes.push(a, b);
    const ticks = 6;
    await waitFor(async () => (await r.keys(jobDoneKey('risk-budget', '*'))).length >= ticks, {
      timeoutMs: 30_000,
      what: `${ticks} ticks`,
    });
    // Stopped, nothing is in flight: markers and counters can be compared exactly.
    await Promise.all(runtimes.splice(0).map((rt) => rt.stop()));

    const markers = await r.keys(jobDoneKey('risk-budget', '*'));
    const tickIds = markers.map((k) => k.slice(jobDoneKey('risk-budget', '').length));
    expect(tickIds.every((id) => /^repeat:risk-budget:tick:\d+$/.test(id))).toBe(true);
    const computedBy = await Promise.all([a, b].map((rt) => metricSum(rt, 'p28_budget_computed_total', { symbol: 'BTCUSDT' })));
    const duplicates = await Promise.all([a, b].map((rt) => metricSum(rt, 'quantum_risk_budget_duplicate_ticks_total')));
    // Each committed computation marks its own tick; a tick computed twice would count twice here.
    expect(computedBy[0]! + computedBy[1]!).toBe(markers.length);
    // And BullMQ never handed one tick to both replicas (the guard would have skipped the second).
    expect(duplicates).toEqual([0, 0]);
    const budget = await r.hgetall(keys.budget('BTCUSDT'));
    // The original's 10 fields only: which tick wrote it is in the tick markers, not the hash.
    expect(Object.keys(budget).sort()).toEqual([
      'base_risk_pct',
      'budget_usd',
      'cluster_stress',
      'equity_usd',
      'mode',
      'portfolio_heat',
      'stress_factor',
      'symbol',
      'timestamp',
      'vol_regime',
    ]);
    console.info(`ticks=${markers.length} computed by replica a=${computedBy[0]} b=${computedBy[1]}`);
  });
});
