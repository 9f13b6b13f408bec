import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { startTestRedis, usePrivateRedis } from '../support/redis-server.js';
import { pendingCount, produce, readStream, startRuntime, waitFor } from '../support/runtime.js';
import { afterRepliesSent, untilKeys, untilStream, untilStreamLength } from '../support/until.js';

const GROUP = 'p26_heat_gate';

describe('heat gate on a real redis-server', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  async function calibratedFor(planId: string) {
    return untilStream(redis.client, streams.harvestCalibrated, (entries) => entries.find((e) => e.plan_id === planId), {
      what: `output for ${planId}`,
    });
  }

  it('runs the seed’s four scenarios through the streams, heat computed from the formula', async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'position-snapshot,heat-gate' });
    const r = redis.client;
    // Scenario 1: COLD. Equity 10000, ETHUSDT 1800 × 0.15 → heat 0.027.
    await r.hset(keys.portfolioState, 'equity_usd', '10000');
    await r.xadd(streams.positionSnapshot, '*', 'symbol', 'ETHUSDT', 'position_notional_usd', '1800', 'sigma', '0.15');
    await untilKeys(r, [keys.activePositions], () => r.sismember(keys.activePositions, 'ETHUSDT'), { what: 'snapshot applied' });
    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'test1', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    expect(await calibratedFor('test1')).toMatchObject({ calibrated_action: 'PARTIAL_25', heat_bucket: 'COLD', heat_value: '0.027' });

    // Scenario 2: WARM. Equity 3000 and a BTCUSDT position 2000 × 0.3 → (270 + 600) / 3000 = 0.29.
    await r.hset(keys.portfolioState, 'equity_usd', '3000');
    await r.xadd(streams.positionSnapshot, '*', 'symbol', 'BTCUSDT', 'position_notional_usd', '2000', 'sigma', '0.3');
    await untilKeys(r, [keys.activePositions], () => r.sismember(keys.activePositions, 'BTCUSDT'), { what: 'snapshot applied' });
    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'test2', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    expect(await calibratedFor('test2')).toMatchObject({ calibrated_action: 'PARTIAL_75', heat_bucket: 'WARM', heat_value: '0.29' });

    // Scenario 3: HOT. Equity 1000 → 0.87.
    await r.hset(keys.portfolioState, 'equity_usd', '1000');
    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'test3', 'symbol', 'BTCUSDT', 'action', 'FULL_CLOSE');
    expect(await calibratedFor('test3')).toMatchObject({
      calibrated_action: 'FULL_CLOSE',
      heat_bucket: 'HOT',
      heat_value: '0.87',
      calibrated: 'true',
      reason: 'portfolio_heat_hot',
    });

    // Scenario 4: PARTIAL passes unchanged.
    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'test4', 'symbol', 'ETHUSDT', 'action', 'PARTIAL_50');
    expect(await calibratedFor('test4')).toMatchObject({ calibrated_action: 'PARTIAL_50', original_action: 'PARTIAL_50' });

    const decisions = await readStream(r, streams.heatDecision);
    expect(decisions.map((d) => d.plan_id)).toEqual(['test1', 'test2', 'test3', 'test4']);
    // Counted on test4's commit reply, which Redis sent before this round trip's.
    await afterRepliesSent(r);
    const metrics = await runtime.server.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^p26_proposals_processed_total 4$/m);
    expect(metrics.body).toMatch(/^p26_bucket\{state="HOT"\} 1$/m);
    for (const name of [
      'p26_heat_value',
      'p26_actions_downgraded_total',
      'p26_stream_lag_ms',
      'p26_failures_total',
      'p26_hash_writes_total',
      'p26_hash_write_fail_total',
      'p26_enforce_mode',
    ]) {
      expect(metrics.body).toContain(`# TYPE ${name} `);
    }
  });

  it('in enforce mode HSETs the calibration over the proposal hash the Apply Layer reads, with a TTL', async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate', P26_MODE: 'enforce' });
    await redis.client.hset(keys.harvestProposal('ETHUSDT'), 'harvest_action', 'FULL_CLOSE', 'kernel_field', 'x');
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'e1', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE', 'reason', 'tp_hit');
    await calibratedFor('e1');
    expect(await redis.client.hgetall(keys.harvestProposal('ETHUSDT'))).toMatchObject({
      action: 'PARTIAL_25',
      plan_id: 'e1',
      calibrated: '1',
      calibrated_by: 'p26_heat_gate',
      downgrade_reason: 'portfolio_heat_cold',
      reason: 'tp_hit',
      harvest_action: 'FULL_CLOSE',
    });
    // The kernel's own fields stay: HSET, never a replace.
    expect(await redis.client.hget(keys.harvestProposal('ETHUSDT'), 'kernel_field')).toBe('x');
    const ttl = await redis.client.ttl(keys.harvestProposal('ETHUSDT'));
    expect(ttl).toBeGreaterThan(290);
    expect(ttl).toBeLessThanOrEqual(300);
  });

  it('in enforce mode calibrates a proposal too wide for the batch script and the proposals committed with it', async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate', P26_MODE: 'enforce' });
    // 5,000 extra fields: the calibrated copy and the hash each take ~10,000 arguments, past what
    // Lua can pass to one redis.call, so that item's commands cannot go through the batch script.
    const wide = Array.from({ length: 5000 }, (_, i) => [`extra_${i}`, String(i)]).flat();
    const pipeline = redis.client.pipeline();
    pipeline.xadd(streams.harvestProposal, '*', 'plan_id', 'wide', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE', ...wide);
    for (const symbol of ['BTCUSDT', 'SOLUSDT', 'XRPUSDT'])
      pipeline.xadd(streams.harvestProposal, '*', 'plan_id', `p-${symbol}`, 'symbol', symbol, 'action', 'FULL_CLOSE');
    await pipeline.exec();
    for (const planId of ['wide', 'p-BTCUSDT', 'p-SOLUSDT', 'p-XRPUSDT']) await calibratedFor(planId);
    for (const symbol of ['ETHUSDT', 'BTCUSDT', 'SOLUSDT', 'XRPUSDT'])
      expect(await redis.client.hget(keys.harvestProposal(symbol), 'calibrated_by')).toBe('p26_heat_gate');
    expect(await redis.client.hget(keys.harvestProposal('ETHUSDT'), 'extra_4999')).toBe('4999');
    // Each acknowledged in the commit that wrote its output (the wide one's MULTI/EXEC too).
    expect(await pendingCount(redis.client, streams.harvestProposal, GROUP)).toBe(0);
    expect(await redis.client.xlen(streams.deadLetter)).toBe(0);
  });

  it('writes exactly one output per proposal and leaves nothing pending', async () => {
    await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
    const count = 5000;
    await produce(
      redis.client,
      streams.harvestProposal,
      Array.from({ length: count }, (_, i) => ({ plan_id: `plan-${i}`, symbol: 'ETHUSDT', action: i % 2 ? 'FULL_CLOSE' : 'PARTIAL_50' })),
    );
    runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate', BATCH_SIZE: '256' });
    await untilStreamLength(redis.client, streams.harvestCalibrated, count, { what: 'all outputs' });
    // Each acknowledged in the commit that wrote its output.
    expect(await pendingCount(redis.client, streams.harvestProposal, GROUP)).toBe(0);
    const outputs = await readStream(redis.client, streams.harvestCalibrated);
    expect(outputs).toHaveLength(count);
    expect(new Set(outputs.map((o) => o.plan_id)).size).toBe(count);
    expect(await redis.client.xlen(streams.heatDecision)).toBe(count);
  });

  it('dead-letters a poison message with its reason while the next ones still pass', async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate' });
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'before', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    const poisonId = await redis.client.xadd(streams.harvestProposal, '*', 'junk', '\u0000\u00ff{not json', 'symbol', 'not a symbol');
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'after', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    await calibratedFor('after');
    const [letter] = await untilStreamLength(redis.client, streams.deadLetter, 1);
    expect(letter).toMatchObject({
      handler: 'heat-gate',
      source_stream: streams.harvestProposal,
      source_id: poisonId,
      group: GROUP,
      reason: 'invalid_input',
    });
    const issues = JSON.parse(letter!.error!) as { path: string }[];
    expect(issues.map((i) => i.path).sort()).toEqual(['action', 'plan_id', 'symbol']);
    expect(JSON.parse(letter!.fields!)).toEqual({ junk: '\u0000\u00ff{not json', symbol: 'not a symbol' });
    expect((await readStream(redis.client, streams.harvestCalibrated)).map((e) => e.plan_id)).toEqual(['before', 'after']);
    // The poison acknowledged in the commit that wrote its dead letter, the others with their outputs.
    expect(await pendingCount(redis.client, streams.harvestProposal, GROUP)).toBe(0);
    expect((await runtime.server.inject({ url: '/ready' })).statusCode).toBe(200);
  });

  it('survives a Redis restart mid-stream: reports not ready, then loses and duplicates nothing', async () => {
    const durable = await startTestRedis({ appendOnly: true });
    try {
      await durable.client.hset(keys.portfolioState, 'equity_usd', '10000');
      runtime = await startRuntime(durable.url, { HANDLERS: 'heat-gate', BATCH_SIZE: '50' });
      await produce(
        durable.client,
        streams.harvestProposal,
        Array.from({ length: 500 }, (_, i) => ({ plan_id: `a-${i}`, symbol: 'ETHUSDT', action: 'FULL_CLOSE' })),
      );
      // Redis stays down until /ready says 503.
      await durable.restart({ downUntil: async () => (await runtime!.server.inject({ url: '/ready' })).statusCode === 503 });
      await produce(
        durable.client,
        streams.harvestProposal,
        Array.from({ length: 500 }, (_, i) => ({ plan_id: `b-${i}`, symbol: 'ETHUSDT', action: 'FULL_CLOSE' })),
      );
      await untilStreamLength(durable.client, streams.harvestCalibrated, 1000, { what: 'all outputs after restart', timeoutMs: 30_000 });
      // Each acknowledged in the commit that wrote its output.
      expect(await pendingCount(durable.client, streams.harvestProposal, GROUP)).toBe(0);
      await waitFor(async () => (await runtime!.server.inject({ url: '/ready' })).statusCode === 200, { what: '/ready 200 again' });
      const outputs = await readStream(durable.client, streams.harvestCalibrated);
      expect(outputs).toHaveLength(1000);
      expect(new Set(outputs.map((o) => o.plan_id)).size).toBe(1000);
    } finally {
      await runtime?.stop();
      runtime = undefined;
      await durable.stop();
    }
  });

  it('shuts down gracefully: commits what it holds, and a successor finishes the rest exactly once', async () => {
    await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
    // Enough that the first consumer is stopped with most of the backlog still unread.
    const count = 5_000;
    await produce(
      redis.client,
      streams.harvestProposal,
      Array.from({ length: count }, (_, i) => ({ plan_id: `g-${i}`, symbol: 'ETHUSDT', action: 'FULL_CLOSE' })),
    );
    const first = await startRuntime(redis.url, { HANDLERS: 'heat-gate', BATCH_SIZE: '100', CONSUMER_NAME: 'graceful-1' });
    await untilStreamLength(redis.client, streams.harvestCalibrated, 1, { what: 'first outputs' });
    await first.stop();
    // Everything read by the stopped consumer was committed: nothing of it is left pending.
    expect(await pendingCount(redis.client, streams.harvestProposal, GROUP)).toBe(0);
    const doneByFirst = await redis.client.xlen(streams.harvestCalibrated);
    expect(doneByFirst).toBeGreaterThan(0);
    expect(doneByFirst).toBeLessThan(count);

    runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate', CONSUMER_NAME: 'graceful-2' });
    await untilStreamLength(redis.client, streams.harvestCalibrated, count, { what: 'the rest' });
    const outputs = await readStream(redis.client, streams.harvestCalibrated);
    expect(outputs).toHaveLength(count);
    expect(new Set(outputs.map((o) => o.plan_id)).size).toBe(count);
  });
});
