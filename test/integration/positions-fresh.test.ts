import { afterEach, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, pendingCount, produce, readStream, startRuntime } from '../support/runtime.js';
import { untilKeys, untilStream, untilStreamLength, type StreamEntry } from '../support/until.js';

const nowSec = () => Math.floor(Date.now() / 1000);

/**
 * Issue #10 item 1 and #13 item 2: every decision takes into account every position written
 * before its message was read, whichever service wrote it (our snapshot stream or the Position
 * Ledger's hashes), and our view never touches the Ledger's keys.
 */
describe('positions: fresh, complete and never someone else’s keys', () => {
  const redis = usePrivateRedis();
  const running: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });
  const start = async (env: Record<string, string>) => {
    const runtime = await startRuntime(redis.url, env);
    running.push(runtime);
    return runtime;
  };
  const decisionFor = (planId: string) =>
    untilStream(redis.client, streams.harvestCalibrated, (entries) => entries.find((e) => e.plan_id === planId), {
      what: `decision for ${planId}`,
    });
  const field = (entry: StreamEntry, name: string) => entry[name];
  const indexed = (symbol: string) =>
    untilKeys(redis.client, [keys.p33PositionIndex], () => redis.client.sismember(keys.p33PositionIndex, symbol), {
      what: 'P3.3 index refreshed',
    });

  it('decides each proposal with the snapshot written just before it, across bucket edges (live, 20 pairs)', async () => {
    await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
    await start({ HANDLERS: 'position-snapshot,heat-gate' });
    for (let i = 0; i < 20; i++) {
      // ETHUSDT 10,000 × 0.15 → heat 0.15 (COLD); 50,000 × 0.15 → 0.75 (HOT).
      const hot = i % 2 === 1;
      await redis.client.xadd(
        streams.positionSnapshot,
        '*',
        'symbol',
        'ETHUSDT',
        'position_notional_usd',
        hot ? '50000' : '10000',
        'sigma',
        '0.15',
      );
      await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', `live-${i}`, 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
      const decision = await decisionFor(`live-${i}`);
      expect([i, field(decision, 'heat_bucket'), field(decision, 'heat_value')]).toEqual([i, hot ? 'HOT' : 'COLD', hot ? '0.75' : '0.15']);
    }
  });

  it.each([
    ['position-snapshot,heat-gate', 'with the snapshot handler (its group created at the same start)'],
    ['heat-gate', 'without it (no group: the stream’s tail)'],
  ])('cold start with backlogs in both streams: no proposal decided COLD (%s, %s)', async (handlers) => {
    const r = redis.client;
    await r.hset(keys.portfolioState, 'equity_usd', '10000');
    // 30,000 × 0.15 / 10,000 = 0.45: WARM.
    await r.xadd(streams.positionSnapshot, '*', 'symbol', 'ETHUSDT', 'position_notional_usd', '30000', 'sigma', '0.15');
    await produce(
      r,
      streams.harvestProposal,
      Array.from({ length: 2000 }, (_, i) => ({ plan_id: `cold-${i}`, symbol: 'ETHUSDT', action: 'FULL_CLOSE' })),
    );
    const runtime = await start({ HANDLERS: handlers });
    await untilStreamLength(r, streams.harvestCalibrated, 2000, { timeoutMs: 30_000, what: '2,000 decisions' });
    // Without the position-snapshot group the gate says it read the stream's tail.
    const tailReads = await metricSum(runtime, 'quantum_heat_gate_position_book_fallback_total', { cause: 'no_group' });
    expect(tailReads > 0).toBe(handlers === 'heat-gate');
    const buckets = new Map<string, number>();
    for (const entry of await readStream(r, streams.harvestCalibrated))
      buckets.set(entry.heat_bucket!, (buckets.get(entry.heat_bucket!) ?? 0) + 1);
    expect(Object.fromEntries(buckets)).toEqual({ WARM: 2000 });
  });

  /** A P3.3 hash as the Position Ledger writes it (TTL 1 h), for a position only it knows. */
  async function ledgerPosition(symbol: string, amt: string, mark: string) {
    const key = keys.p33PositionSnapshot(symbol);
    await redis.client.hset(key, {
      symbol,
      position_amt: amt,
      side: Number(amt) >= 0 ? 'LONG' : 'SHORT',
      entry_price: mark,
      mark_price: mark,
      unrealized_pnl: '0',
      leverage: '5',
      ts_epoch: String(nowSec()),
    });
    await redis.client.expire(key, 3600);
  }

  it('the heat gate counts a position that exists only as a P3.3 hash (sigma from the market state)', async () => {
    const r = redis.client;
    await r.hset(keys.portfolioState, 'equity_usd', '10000');
    // 10 × 3,000 = 30,000 notional × 0.15 / 10,000 = 0.45: WARM.
    await ledgerPosition('ETHUSDT', '10', '3000');
    await r.hset(keys.marketState('ETHUSDT'), 'sigma', '0.15');
    await start({ HANDLERS: 'position-index,heat-gate', POSITION_INDEX_REFRESH_SEC: '1' });
    await indexed('ETHUSDT');
    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'p33-heat', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    const decision = await decisionFor('p33-heat');
    expect([field(decision, 'heat_bucket'), field(decision, 'heat_value'), field(decision, 'calibrated_action')]).toEqual([
      'WARM',
      '0.45',
      'PARTIAL_75',
    ]);
  });

  it('the heat gate reads the proposal’s own symbol from P3.3 directly, before any index refresh', async () => {
    const r = redis.client;
    await r.hset(keys.portfolioState, 'equity_usd', '10000');
    await ledgerPosition('ETHUSDT', '10', '3000');
    await r.hset(keys.marketState('ETHUSDT'), 'sigma', '0.15');
    await start({ HANDLERS: 'heat-gate' });
    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'p33-direct', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    const decision = await decisionFor('p33-direct');
    expect([field(decision, 'heat_bucket'), field(decision, 'heat_value')]).toEqual(['WARM', '0.45']);
    expect(await r.exists(keys.p33PositionIndex)).toBe(0);
  });

  it('the governor blocks a $100 open when $50,000 is held per a P3.3 hash (total cap 2,000), on another symbol and on the same one', async () => {
    const r = redis.client;
    await ledgerPosition('BTCUSDT', '-1', '50000');
    // The governor prices an open at the market's mark price (the other symbol's; BTCUSDT's comes from its P3.3 hash).
    await r.hset(keys.marketState('SOLUSDT'), 'mark_price', '100');
    await start({ HANDLERS: 'position-index,governor', POSITION_INDEX_REFRESH_SEC: '1', GOV_MAX_TOTAL_NOTIONAL_USDT: '2000' });
    // The plan's own symbol is read directly: no need to wait for the index.
    await r.xadd(
      streams.applyPlan,
      '*',
      'decision',
      'EXECUTE',
      'plan_id',
      'same-sym',
      'symbol',
      'BTCUSDT',
      'action',
      'UNKNOWN',
      'side',
      'BUY',
      'qty',
      '0.002',
      'price',
      '50000',
    );
    const events = (id: string) =>
      untilStream(r, streams.governorEvents, (all) => all.find((e) => e.plan_id === id && (e.event === 'permit' || e.event === 'block')), {
        what: id,
      });
    expect(await events('same-sym')).toMatchObject({ event: 'block', reason: 'total_notional_exceeded', total_notional: '50000' });
    await indexed('BTCUSDT');
    await r.xadd(
      streams.applyPlan,
      '*',
      'decision',
      'EXECUTE',
      'plan_id',
      'other-sym',
      'symbol',
      'SOLUSDT',
      'action',
      'UNKNOWN',
      'side',
      'BUY',
      'qty',
      '1',
      'price',
      '100',
    );
    expect(await events('other-sym')).toMatchObject({ event: 'block', reason: 'total_notional_exceeded', total_notional: '50000' });
    expect(await r.exists(keys.permit('same-sym'), keys.permit('other-sym'))).toBe(0);
  });

  it('the budget engine computes a budget for a symbol held only per a P3.3 hash', async () => {
    const r = redis.client;
    await r.hset(keys.portfolioState, { equity_usd: '100000', timestamp: String(nowSec()) });
    await ledgerPosition('SOLUSDT', '100', '150');
    await r.hset(keys.marketState('SOLUSDT'), 'sigma', '0.2');
    await start({ HANDLERS: 'position-index,risk-budget', POSITION_INDEX_REFRESH_SEC: '1', BUDGET_COMPUTE_INTERVAL_SEC: '1' });
    const budget = await untilKeys(
      r,
      [keys.budget('SOLUSDT')],
      async () => ((await r.hget(keys.budget('SOLUSDT'), 'budget_usd')) ? r.hgetall(keys.budget('SOLUSDT')) : undefined),
      { what: 'SOLUSDT budget' },
    );
    // 15,000 × 0.2 / 100,000 = 0.03 heat in the budget's inputs.
    expect(budget).toMatchObject({ symbol: 'SOLUSDT', portfolio_heat: '0.03' });
  });

  it('our snapshot handler never touches P3.3’s hash: its fields and TTL stay intact', async () => {
    const r = redis.client;
    await ledgerPosition('ETHUSDT', '2', '3000');
    const before = await r.hgetall(keys.p33PositionSnapshot('ETHUSDT'));
    await start({ HANDLERS: 'position-snapshot' });
    const [id, closeId] = await produce(r, streams.positionSnapshot, [
      { symbol: 'ETHUSDT', position_notional_usd: '9000', sigma: '0.2' },
      { symbol: 'ETHUSDT', position_notional_usd: '0' },
    ]);
    await untilKeys(r, [keys.positionAppliedId('ETHUSDT')], async () => (await r.get(keys.positionAppliedId('ETHUSDT'))) === closeId, {
      what: 'snapshots applied',
    });
    // The close is the stream's last entry: acknowledged with its commit, after the open's.
    expect(await pendingCount(r, streams.positionSnapshot, 'position_snapshot')).toBe(0);

    expect(id).toBeDefined();
    expect(await r.hgetall(keys.p33PositionSnapshot('ETHUSDT'))).toEqual(before);
    const ttl = await r.ttl(keys.p33PositionSnapshot('ETHUSDT'));
    expect(ttl).toBeGreaterThan(3500);
    expect(ttl).toBeLessThanOrEqual(3600);
    // Our view went through open → closed under our own keys.
    expect(await r.exists(keys.position('ETHUSDT'))).toBe(0);
    expect(await r.sismember(keys.activePositions, 'ETHUSDT')).toBe(0);
  });
});
