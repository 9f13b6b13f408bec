import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import { governorDecided } from '../support/runtime.js';
import { untilEachSeen } from '../support/until.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { spawnRuntime, type RuntimeProcess } from './support/runtime-process.js';
import { duplicates, fieldOfAll, pendingCount, produce, proposal, seedPortfolio } from './support/streams.js';

const BACKLOG = 20_000;
const FLUSH_EVERY_MS = 10;

/**
 * The runtime sends the commit script and the batch state's script
 * by hash (EVALSHA / EVALSHA_RO), falling back to the body on NOSCRIPT. Redis forgets its scripts
 * on a restart, a failover to a replica that never ran them, or SCRIPT FLUSH: here another client
 * flushes the script cache every few milliseconds while the gates work, so NOSCRIPT meets every
 * path again and again. Nothing may be lost, doubled, dead-lettered or left pending.
 */
describe('the script cache flushed again and again while the gates work', () => {
  let redis: TestRedis;
  const processes: RuntimeProcess[] = [];
  let flushing: ReturnType<typeof setInterval> | undefined;
  let flushes = 0;

  const startFlushing = () => {
    const flusher = redis.client.duplicate();
    flushing = setInterval(() => {
      void flusher.script('FLUSH').then(() => (flushes += 1));
    }, FLUSH_EVERY_MS);
    return async () => {
      clearInterval(flushing);
      flusher.disconnect();
    };
  };

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    clearInterval(flushing);
    await Promise.all(processes.map((p) => p.kill()));
    await redis?.stop();
  });

  it('heat gate: every proposal decided exactly once, nothing pending, no dead letter', async () => {
    const r = redis.client;
    await seedPortfolio(r);
    await produce(
      r,
      streams.harvestProposal,
      Array.from({ length: BACKLOG }, (_, i) => proposal(`f-${i}`)),
    );
    flushes = 0;
    const stop = startFlushing();
    const gates = await spawnRuntime({ redisUrl: redis.url, handlers: 'heat-gate', consumerName: 'chaos-flush-heat' });
    processes.push(gates);
    const sent = Array.from({ length: BACKLOG }, (_, i) => `f-${i}`);
    await untilEachSeen(r, streams.harvestCalibrated, 'plan_id', sent, { what: 'all outputs', timeoutMs: 120_000 });
    // Each output was committed with its proposal's ack.
    expect(await pendingCount(r, streams.harvestProposal, 'p26_heat_gate')).toBe(0);
    await stop();

    const planIds = await fieldOfAll(r, streams.harvestCalibrated, 'plan_id');
    expect(planIds).toHaveLength(BACKLOG);
    expect(duplicates(planIds)).toEqual([]);
    expect(await r.xlen(streams.heatDecision)).toBe(BACKLOG);
    expect(await r.xlen(streams.deadLetter)).toBe(0);
    expect(flushes).toBeGreaterThan(10);
    console.info(`[chaos] script flush: ${flushes} flushes during a ${BACKLOG}-proposal drain; 0 lost, 0 duplicates`);
    await gates.kill();
  }, 150_000);

  it('governor: one decision per plan and the cap holds, with its delayed cooldown jobs', async () => {
    const r = redis.client;
    const CAP = 5;
    const PLANS = 60;
    // The heat gate's portfolio would fill the governor's position cap: start from an empty Redis.
    await r.flushall();
    for (let i = 0; i < PLANS; i++) await r.hset(keys.marketState(`F${i}USDT`), 'mark_price', '100');
    flushes = 0;
    const stop = startFlushing();
    const gates = await spawnRuntime({
      redisUrl: redis.url,
      handlers: 'governor,governor-cooldown',
      consumerName: 'chaos-flush-governor',
      env: { BATCH_SIZE: '4', GOV_MAX_OPEN_POSITIONS: String(CAP), GOV_SYMBOL_COOLDOWN_SECONDS: '3600' },
    });
    processes.push(gates);
    // As upstream's publish_plan writes apply.plan (microservices/apply_layer/main.py at 8f5055c52, lines 673-690).
    await produce(
      r,
      streams.applyPlan,
      Array.from({ length: PLANS }, (_, i) => ({
        plan_id: `g-${i}`,
        symbol: `F${i}USDT`,
        action: 'OPEN_LONG',
        decision: 'EXECUTE',
        side: 'BUY',
        qty: '1.5',
        price: '100',
      })),
    );
    const events = await governorDecided(r, PLANS, 60_000);
    // Each decision was committed with its plan's ack.
    expect(await pendingCount(r, streams.applyPlan, 'governor')).toBe(0);
    await stop();

    expect(duplicates(events.map((e) => e.plan_id ?? ''))).toEqual([]);
    expect(events).toHaveLength(PLANS);
    expect(events.filter((e) => e.event === 'permit')).toHaveLength(CAP);
    // Each permit's cooldown expiry went to BullMQ (Queue.addBulk), once.
    expect(await r.zcard('bull:governor-cooldown:delayed')).toBe(CAP);
    expect(await r.xlen(streams.deadLetter)).toBe(0);
    expect(flushes).toBeGreaterThan(10);
  }, 90_000);
});
