/**
 * Issue #69 measured case 4 ("phase B"): P3.3 writes a position filled by a path other than this
 * governor's permit, and plans arrive right after. Every gate runs in one process against a private
 * redis-server, the producers of each era write what they write (test/pipeline/producers/), and the
 * position index job's refresh is an hour away, so the case cannot pass by a refresh's luck (on
 * 2af38d6, with the refresh at its default 5 s, it failed whenever the plans came before the next
 * refresh: 5 positions counted where 6 were held).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime, waitFor } from '../support/runtime.js';
import { untilStream } from '../support/until.js';
import { publishIntentBridgePlan, type Intent } from './producers/intent-bridge.js';
import { writeP33Pass } from './producers/position-state-brain.js';
import { eras, type Era } from './producers/upstream.js';
import { exchange, open, writeProducerState } from './traffic.js';

/** XRPUSDT as P3.3's next pass reports it: 56 filled at the mark of 2.1 ($117.60). */
const XRP_FILLED = 56;
const heldBefore = open.reduce((sum, p) => sum + Math.abs(p.positionAmt * p.markPrice), 0);
const xrp = exchange.find((p) => p.symbol === 'XRPUSDT')!;

/** Three opens of the intent bridge, the first on the flat BNBUSDT ($138, under every cap). */
const plans: readonly Intent[] = [
  { symbol: 'BNBUSDT', side: 'BUY', qty: 0.22, leverage: 10, entryPrice: 627.5 },
  { symbol: 'SOLUSDT', side: 'BUY', qty: 0.5, leverage: 5, entryPrice: 150 },
  { symbol: 'DOGEUSDT', side: 'BUY', qty: 500, leverage: 5, entryPrice: 0.15 },
];

describe.each(eras)('phase B: a position P3.3 writes right before three plans is in their decisions, %s era', (era: Era) => {
  let redis: TestRedis;
  let r: Redis;
  let runtime: Runtime;

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client;
    await writeProducerState(r, era, Date.now());
    runtime = await createTestRuntime(redis.url, {
      POSITION_P33_SYMBOLS: exchange.map((p) => p.symbol).join(','),
      POSITION_INDEX_REFRESH_SEC: '3600',
    });
    await runtime.start();
    await waitFor(async () => (await runtime.server.inject({ url: '/ready' })).statusCode === 200 || undefined, { timeoutMs: 20_000 });
    await waitFor(async () => (await r.scard(keys.p33PositionIndex)) === exchange.length || undefined, {
      what: 'the index’s first refresh',
    });
  }, 60_000);

  afterAll(async () => {
    await runtime?.stop();
    await redis?.stop();
  });

  it('the governor counts the sixth position P3.3 wrote: 5 open positions and $1,777.60, not 4 and $1,660', async () => {
    await waitFor(() => (runtime.readiness().checks as Record<string, unknown>)['key_watch:p33-positions'] === 'live' || undefined, {
      what: 'the P3.3 key watch live',
      timeoutMs: 20_000,
    });
    const now = Date.now();
    await writeP33Pass(
      r,
      era,
      exchange.map((p) => (p.symbol === 'XRPUSDT' ? { ...p, positionAmt: XRP_FILLED, entryPrice: 2.1 } : p)),
      now,
    );
    const planIds: string[] = [];
    for (const [i, intent] of plans.entries()) planIds.push((await publishIntentBridgePlan(r, era, `${now}-${i}`, intent, now)).planId);
    const decided = await untilStream(
      r,
      streams.governorEvents,
      (events) => {
        const verdicts = planIds.map((id) => events.find((e) => e.plan_id === id && (e.event === 'permit' || e.event === 'block')));
        return verdicts.every((v) => v !== undefined) && verdicts;
      },
      { what: 'the three plans decided', timeoutMs: 20_000 },
    );
    const first = decided[0]!;
    expect(first).toMatchObject({ event: 'permit', open_positions: String(open.length + 1) });
    expect(Number(first.total_notional)).toBeCloseTo(heldBefore + XRP_FILLED * xrp.markPrice, 6);
    // Each later plan counts it too (and the permits before it, as reservations).
    for (const verdict of decided) expect(Number(verdict!.open_positions)).toBeGreaterThanOrEqual(open.length + 1);
  });
});
