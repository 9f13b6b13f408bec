import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../runtime/host/runtime.js';
import { heatByPlanSchema, heatLatestSchema, lookupFields } from '../../schemas/heat-bridge.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, pendingCount, startRuntime } from '../support/runtime.js';
import { afterRepliesSent, untilKeys } from '../support/until.js';

/**
 * Golden cases from the original P2.7 heat bridge, microservices/heat_bridge/main.py at
 * 3eb5fe66b (`process_message`, `is_deduped`, `write_lookup_keys`, `export_metrics`), each
 * through the real runtime against a private redis-server.
 */
describe('compat: P2.7 heat bridge', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const start = async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'heat-bridge' });
    return runtime;
  };
  const decide = (fields: Record<string, string>) => redis.client.xadd(streams.heatDecision, '*', ...Object.entries(fields).flat());
  /** The lookup hash of `planId`, once a commit has written it (its other writes, ack and metrics with it). */
  const bridged = async (planId: string) => {
    const key = keys.heatByPlan(planId);
    const hash = await untilKeys(
      redis.client,
      [key],
      async () => {
        const h = await redis.client.hgetall(key);
        return Object.keys(h).length > 0 && h.plan_id !== undefined ? h : undefined;
      },
      { what: `${planId} bridged` },
    );
    // The runtime counts the commit's metrics on its reply: by this round trip's answer.
    await afterRepliesSent(redis.client);
    return hash;
  };
  const decision = (planId: string, symbol = 'BTCUSDT', extra: Record<string, string> = {}) => ({
    ts_epoch: String(Math.floor(Date.now() / 1000)),
    symbol,
    plan_id: planId,
    in_action: 'FULL_CLOSE_PROPOSED',
    out_action: 'PARTIAL_50_PROPOSED',
    heat_level: 'warm',
    heat_score: '0.5',
    heat_action: 'DOWNGRADE_FULL_TO_PARTIAL',
    recommended_partial: '0.5',
    reason: 'ok',
    inputs_age_sec: '3',
    mode: 'shadow',
    debug_json: '{"components":{}}',
    ...extra,
  });

  it('writes by_plan with the twelve lookup fields, latest with them and last_plan_id, the pointer; TTLs 1800, dedupe 120', async () => {
    // `lookup_data = {ts_epoch, symbol, plan_id, in_action, out_action, heat_level, heat_score, heat_action,
    // recommended_partial, reason, mode, debug_json}`; `latest_data["last_plan_id"] = plan_id`;
    // `setex(pointer_key, self.ttl_symbol, plan_id)`; `setex(dedupe_key, self.dedupe_ttl, "1")`.
    await start();
    const fields = decision('P1');
    await decide(fields);
    const byPlan = await bridged('P1');
    const { inputs_age_sec: _notBridged, ...twelve } = fields;
    expect(byPlan).toEqual(twelve);
    expect(heatByPlanSchema.safeParse(byPlan).success).toBe(true);
    const latest = await redis.client.hgetall(keys.heatLatest('BTCUSDT'));
    // No field beyond the original's: no source_id, nothing of ours.
    expect(latest).toEqual({ ...twelve, last_plan_id: 'P1' });
    expect(heatLatestSchema.safeParse(latest).success).toBe(true);
    expect(await redis.client.get(keys.heatLatestPlanId('BTCUSDT'))).toBe('P1');
    expect(await redis.client.get(keys.heatBridgeDedupe('P1'))).toBe('1');
    for (const [key, ttl] of [
      [keys.heatByPlan('P1'), 1800],
      [keys.heatLatest('BTCUSDT'), 1800],
      [keys.heatLatestPlanId('BTCUSDT'), 1800],
      [keys.heatBridgeDedupe('P1'), 120],
    ] as const) {
      const left = await redis.client.ttl(key);
      expect(left, key).toBeGreaterThan(ttl - 10);
      expect(left, key).toBeLessThanOrEqual(ttl);
    }
    expect(await redis.client.type(keys.heatLatestPlanId('BTCUSDT'))).toBe('string');
  });

  it('fills missing fields with "" and debug_json with "{}"', async () => {
    // `decision.get("ts_epoch", "")` … `decision.get("debug_json", "{}")`
    await start();
    await decide({ plan_id: 'P2', symbol: 'ETHUSDT' });
    const byPlan = await bridged('P2');
    expect(Object.keys(byPlan).sort()).toEqual([...lookupFields].sort());
    expect(byPlan).toMatchObject({ plan_id: 'P2', symbol: 'ETHUSDT', ts_epoch: '', heat_action: '', reason: '', debug_json: '{}' });
  });

  it('counts p27_in_messages_total only for decisions past the dedupe check', async () => {
    // `if self.is_deduped(plan_id): return True` comes before `self.metrics["p27_in_messages_total"] += 1`.
    await start();
    await decide(decision('P3'));
    await decide(decision('P3', 'BTCUSDT', { out_action: 'PARTIAL_25_PROPOSED' }));
    await decide(decision('P4'));
    // P4's is the last of the three commits (one consumer, in stream order).
    await bridged('P4');
    expect(await metricSum(runtime!, 'p27_dedupe_skips_total')).toBe(1);
    expect(await metricSum(runtime!, 'p27_in_messages_total')).toBe(2);
    expect(await redis.client.hget(keys.heatByPlan('P3'), 'out_action')).toBe('PARTIAL_50_PROPOSED');
    expect(await pendingCount(redis.client, streams.heatDecision, 'heat_bridge')).toBe(0);
  });

  it('bridges a long plan_id and a symbol with ":" verbatim, as the original keyed them', async () => {
    await start();
    const longPlan = `plan-${'x'.repeat(5000)}`;
    await decide(decision(longPlan, 'BTC:USDT'));
    await decide(decision(' spaced plan ', 'ethusdt'));
    await bridged(longPlan);
    expect(await redis.client.hget(keys.heatLatest('BTC:USDT'), 'last_plan_id')).toBe(longPlan);
    expect(await redis.client.get(keys.heatLatestPlanId('BTC:USDT'))).toBe(longPlan);
    await bridged(' spaced plan ');
    expect(await redis.client.get(keys.heatLatestPlanId('ethusdt'))).toBe(' spaced plan ');
    expect(await redis.client.xlen(streams.deadLetter)).toBe(0);
  });

  it('HSETs over an existing lookup hash (fields others wrote stay), as `hset(..., mapping=...)`', async () => {
    await redis.client.hset(keys.heatByPlan('P5'), 'annotation', 'kept');
    await start();
    await decide(decision('P5'));
    await bridged('P5');
    expect(await redis.client.hget(keys.heatByPlan('P5'), 'annotation')).toBe('kept');
  });

  it('exports the p27_* series with the original names and labels; lag and last_ts_epoch from ts_epoch', async () => {
    // `export_metrics`: p27_loops_total, p27_in_messages_total, p27_written_total{kind="by_plan"|"latest_symbol"},
    // p27_dedupe_skips_total, p27_errors_total{stage="read"|"write"|"ack"}, p27_lag_ms, p27_last_ts_epoch.
    await start();
    const ts = Math.floor(Date.now() / 1000) - 5;
    await decide(decision('P6', 'BTCUSDT', { ts_epoch: String(ts) }));
    await bridged('P6');
    expect(await metricSum(runtime!, 'p27_in_messages_total')).toBe(1);
    const text = (await runtime!.server.inject({ method: 'GET', url: '/metrics' })).body;
    for (const series of [
      'p27_loops_total',
      'p27_in_messages_total 1',
      'p27_written_total{kind="by_plan"} 1',
      'p27_written_total{kind="latest_symbol"} 1',
      'p27_dedupe_skips_total 0',
      'p27_errors_total{stage="read"} 0',
      'p27_errors_total{stage="write"} 0',
      'p27_errors_total{stage="ack"} 0',
      `p27_last_ts_epoch ${ts}`,
    ]) {
      expect(text).toMatch(new RegExp(`^${series.replace(/[{}"|]/g, (c) => `\\${c}`)}`, 'm'));
    }
    // `lag_ms = int((time.time() - ts_epoch_int) * 1000)`: about five seconds.
    const lag = await metricSum(runtime!, 'p27_lag_ms');
    expect(lag).toBeGreaterThanOrEqual(5000);
    expect(lag).toBeLessThan(60_000);
  });
});
