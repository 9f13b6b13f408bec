import { describe, expect, it } from 'vitest';
import type { Effect } from '../../runtime/engine/effects.js';
import { heatBridge } from '../../handlers/heat-bridge/index.js';
import { compareStreamIds, heatByPlanOf } from '../../handlers/heat-bridge/lookup.js';
import { parseHeatBridgeConfig } from '../../handlers/heat-bridge/config.js';
import { keys } from '../../schemas/keys.js';
import { RecordedMetrics, recordingMetricFactory, runHandler } from '../support/fake-ctx.js';
import type { FakeRedisData } from '../support/fake-redis-reader.js';

const NOW = 1_800_000_000_000;

/** A decision exactly as the heat gate's record() emits it. */
function decision(planId: string, symbol = 'BTCUSDT', overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ts_epoch: String(NOW / 1000 - 1),
    symbol,
    plan_id: planId,
    in_action: 'FULL_CLOSE',
    out_action: 'PARTIAL_25',
    heat_level: 'COLD',
    heat_score: '0.1',
    heat_action: 'DOWNGRADE_FULL_TO_PARTIAL',
    recommended_partial: '0.25',
    reason: 'portfolio_heat_cold',
    mode: 'shadow',
    debug_json: '{"trace_id":"t1"}',
    ...overrides,
  };
}

function bridge(raw: Record<string, string>, options: { redis?: FakeRedisData; id?: string; env?: Record<string, string> } = {}) {
  const id = options.id ?? `${NOW - 250}-0`;
  return runHandler(heatBridge, raw, {
    redis: options.redis ?? {},
    env: options.env ?? {},
    now: NOW,
    meta: { id, producedAt: Number(id.split('-')[0]) },
  });
}

function effect(effects: readonly Effect[], op: Effect['op'], key: string) {
  return effects.find((e) => e.op === op && 'key' in e && e.key === key);
}

describe('heat-bridge: lookup keys', () => {
  it('writes by_plan, latest (with last_plan_id) and the latest_plan_id pointer, each with its TTL', async () => {
    const run = await bridge(decision('P1'));
    const fields = decision('P1');
    // HSET (no replace) with exactly the original's fields, as `write_lookup_keys`.
    expect(effect(run.recorder.effects, 'putHash', keys.heatByPlan('P1'))).toEqual({
      op: 'putHash',
      key: keys.heatByPlan('P1'),
      fields,
      ttlSec: 1800,
      onFail: expect.any(Function),
    });
    expect(effect(run.recorder.effects, 'putHash', keys.heatLatest('BTCUSDT'))).toEqual({
      op: 'putHash',
      key: keys.heatLatest('BTCUSDT'),
      fields: { ...fields, last_plan_id: 'P1' },
      ttlSec: 1800,
      onFail: expect.any(Function),
    });
    expect(effect(run.recorder.effects, 'setKey', keys.heatLatestSourceId('BTCUSDT'))).toMatchObject({
      value: `${NOW - 250}-0`,
      ttlSec: 1800,
    });
    expect(effect(run.recorder.effects, 'setKey', keys.heatLatestPlanId('BTCUSDT'))).toMatchObject({ value: 'P1', ttlSec: 1800 });
    expect(effect(run.recorder.effects, 'setKey', keys.heatBridgeDedupe('P1'))).toMatchObject({ ttlSec: 120 });
    expect(run.metrics.get('p27_written_total', { kind: 'by_plan' })).toBe(1);
    expect(run.metrics.get('p27_written_total', { kind: 'latest_symbol' })).toBe(1);
    expect(run.metrics.get('p27_in_messages_total')).toBe(1);
  });

  it('guards the dedupe key and the pointer so the write is atomic with the ack and race-free', async () => {
    const run = await bridge(decision('P1'), { redis: { strings: { [keys.heatLatestPlanId('BTCUSDT')]: 'P0' } } });
    expect(run.recorder.guards).toEqual([
      { kind: 'absent', key: keys.heatBridgeDedupe('P1') },
      { kind: 'equals', key: keys.heatLatestPlanId('BTCUSDT'), value: 'P0' },
    ]);
  });

  it('fills fields the producer left out as the original did', () => {
    expect(heatByPlanOf({ plan_id: 'P1', symbol: 'BTCUSDT' })).toMatchObject({
      plan_id: 'P1',
      symbol: 'BTCUSDT',
      heat_action: '',
      debug_json: '{}',
    });
  });

  it('honours the TTL variables', async () => {
    const run = await bridge(decision('P1'), { env: { P27_TTL_PLAN_SEC: '60', P27_TTL_SYMBOL_SEC: '90', P27_DEDUPE_TTL_SEC: '5' } });
    expect(effect(run.recorder.effects, 'putHash', keys.heatByPlan('P1'))).toMatchObject({ ttlSec: 60 });
    expect(effect(run.recorder.effects, 'putHash', keys.heatLatest('BTCUSDT'))).toMatchObject({ ttlSec: 90 });
    expect(effect(run.recorder.effects, 'setKey', keys.heatBridgeDedupe('P1'))).toMatchObject({ ttlSec: 5 });
  });

  it('sets lag and last_ts_epoch from the decision ts_epoch, as the original', async () => {
    const run = await bridge(decision('P1'));
    expect(run.metrics.get('p27_lag_ms')).toBe(1000);
    expect(run.metrics.get('p27_last_ts_epoch')).toBe(NOW / 1000 - 1);
  });
});

describe('heat-bridge: dedupe', () => {
  it('skips a plan_id seen within the dedupe window and counts it', async () => {
    const run = await bridge(decision('P1'), { redis: { strings: { [keys.heatBridgeDedupe('P1')]: '1' } } });
    expect(run.recorder.effects).toEqual([]);
    expect(run.recorder.guards).toEqual([]);
    expect(run.metrics.get('p27_dedupe_skips_total')).toBe(1);
    // The original returned before counting p27_in_messages_total.
    expect(run.metrics.get('p27_in_messages_total')).toBeUndefined();
  });
});

describe('heat-bridge: latest per symbol', () => {
  it('moves latest forward to a newer decision for the same symbol', async () => {
    const redis = { strings: { [keys.heatLatestSourceId('BTCUSDT')]: `${NOW - 900}-0`, [keys.heatLatestPlanId('BTCUSDT')]: 'P1' } };
    const run = await bridge(decision('P2', 'BTCUSDT', { out_action: 'PARTIAL_75' }), { redis });
    expect(effect(run.recorder.effects, 'setKey', keys.heatLatestPlanId('BTCUSDT'))).toMatchObject({ value: 'P2' });
    expect(effect(run.recorder.effects, 'putHash', keys.heatLatest('BTCUSDT'))).toMatchObject({
      fields: { last_plan_id: 'P2', out_action: 'PARTIAL_75' },
    });
  });

  it('never moves latest back to an older decision committed late by another replica', async () => {
    const redis = { strings: { [keys.heatLatestSourceId('BTCUSDT')]: `${NOW - 100}-0` } };
    const run = await bridge(decision('P1'), { redis, id: `${NOW - 250}-0` });
    expect(effect(run.recorder.effects, 'putHash', keys.heatByPlan('P1'))).toBeDefined();
    expect(effect(run.recorder.effects, 'putHash', keys.heatLatest('BTCUSDT'))).toBeUndefined();
    expect(effect(run.recorder.effects, 'setKey', keys.heatLatestPlanId('BTCUSDT'))).toBeUndefined();
    // Exported at 0 from the start, as the original; never counted here.
    expect(run.metrics.get('p27_written_total', { kind: 'latest_symbol' })).toBe(0);
  });

  it.each([
    ['1-0', '2-0', -1],
    ['2-0', '1-5', 1],
    ['5-1', '5-2', -1],
    ['5-2', '5-2', 0],
    ['10-0', '9-99', 1],
    ['18446744073709551615-1', '18446744073709551615-0', 1],
  ])('orders stream ids: %s vs %s → %d', (a, b, order) => {
    expect(compareStreamIds(a, b)).toBe(order);
  });
});

describe('heat-bridge: input, loops and config', () => {
  it('rejects a decision without plan_id (it goes to the dead-letter stream)', async () => {
    const { plan_id: _omit, ...withoutPlan } = decision('P1');
    await expect(bridge(withoutPlan)).rejects.toThrow(/plan_id/);
  });

  it('counts one loop per batch through the runtime hook, however many messages it holds', () => {
    const recorded = new RecordedMetrics();
    const metrics = heatBridge.metrics(recordingMetricFactory(recorded), parseHeatBridgeConfig({}));
    heatBridge.batch!.onRead!(metrics, 500);
    heatBridge.batch!.onRead!(metrics, 1);
    expect(recorded.get('p27_loops_total')).toBe(2);
  });

  it('has the seed defaults and lets the stream and group be overridden', () => {
    expect(parseHeatBridgeConfig({})).toEqual({
      P27_STREAM_IN: 'quantum:stream:harvest.heat.decision',
      P27_GROUP: 'heat_bridge',
      P27_TTL_PLAN_SEC: 1800,
      P27_TTL_SYMBOL_SEC: 1800,
      P27_DEDUPE_TTL_SEC: 120,
    });
    expect(parseHeatBridgeConfig({ P27_STREAM_IN: 's', P27_GROUP: 'g' })).toMatchObject({ P27_STREAM_IN: 's', P27_GROUP: 'g' });
  });
});
