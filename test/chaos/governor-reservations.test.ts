import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import { governorDecided } from '../support/runtime.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { spawnRuntime, type RuntimeProcess } from './support/runtime-process.js';
import { pendingCount, produce } from './support/streams.js';

/**
 * Far longer than the test: a replica's start under load no longer races the reservations'
 * expiry. The test makes them expire itself, by moving their expiry times (the set's scores,
 * which are all the governor reads of it) into the past.
 */
const TIMEOUT_SEC = 3600;
const CAP = 3;

/**
 * An open as upstream's publish_plan writes apply.plan (microservices/apply_layer/main.py at
 * 8f5055c52, lines 673-690), with an open's side and qty.
 */
const open = (planId: string, symbol: string) => ({
  plan_id: planId,
  symbol,
  action: 'OPEN_LONG',
  decision: 'EXECUTE',
  side: 'BUY',
  qty: '1.5',
  price: '100',
});

/**
 * Issue #23: reservations live in Redis, not in a process. Replicas SIGKILLed while holding
 * them (and while holding unacknowledged opens) leave them counted until they expire; then they
 * free their slots and leave nothing behind.
 */
describe('governor replicas killed holding reservations', () => {
  let redis: TestRedis;
  const all: RuntimeProcess[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await Promise.all(all.map((p) => p.kill()));
    await redis?.stop();
  });

  it('keeps counting them after the kill, frees them at expiry, and leaks none', async () => {
    const r = redis.client;
    let seq = 0;
    const env = {
      BATCH_SIZE: '2',
      GOV_MAX_OPEN_POSITIONS: String(CAP),
      GOV_RESERVATION_TIMEOUT_SEC: String(TIMEOUT_SEC),
      GOV_SYMBOL_COOLDOWN_SECONDS: '0',
    };
    const start = () =>
      spawnRuntime({ redisUrl: redis.url, handlers: 'governor', consumerName: `caps-chaos-${++seq}`, env }).then((p) => {
        all.push(p);
        return p;
      });
    const decided = (count: number) => governorDecided(r, count, 60_000);

    for (let i = 0; i < 40; i++) await r.hset(keys.marketState(`K${i}USDT`), 'mark_price', '100');
    const [first, second] = await Promise.all([start(), start()]);

    // A burst the two replicas share; both die right after it, holding the reservations it made.
    await produce(
      r,
      streams.applyPlan,
      Array.from({ length: 12 }, (_, i) => open(`kill-${i}`, `K${i}USDT`)),
    );
    const burst = await decided(12);
    expect(burst.filter((e) => e.event === 'permit')).toHaveLength(CAP);
    await Promise.all([first!.kill(), second!.kill()]);
    const reservedAtKill = await r.zrangebyscore(keys.governorReservations, '-inf', '+inf', 'WITHSCORES');
    expect(reservedAtKill.length / 2).toBe(CAP);

    // A fresh replica still counts them: the cap stays full while they are outstanding.
    await start();
    await produce(r, streams.applyPlan, [open('after-kill', 'K20USDT')]);
    const afterKill = (await decided(13)).find((e) => e.plan_id === 'after-kill');
    expect(afterKill).toMatchObject({ event: 'block', reason: 'max_positions_reached', reserved_positions: String(CAP) });

    // Each reservation expires GOV_RESERVATION_TIMEOUT_SEC after the permit that made it.
    for (let i = 0; i < reservedAtKill.length; i += 2) {
      const { reserved_at } = JSON.parse(reservedAtKill[i]!) as { reserved_at: number };
      expect(Number(reservedAtKill[i + 1]) - reserved_at).toBe(TIMEOUT_SEC * 1000);
    }
    // Once every reservation has expired, they free their slots: their time is moved on, to a
    // millisecond ago, rather than waited for.
    const expired = Date.now() - 1;
    for (let i = 0; i < reservedAtKill.length; i += 2) await r.zadd(keys.governorReservations, 'XX', expired, reservedAtKill[i]!);
    await produce(
      r,
      streams.applyPlan,
      Array.from({ length: 6 }, (_, i) => open(`expired-${i}`, `K${30 + i}USDT`)),
    );
    const later = (await decided(19)).filter((e) => (e.plan_id ?? '').startsWith('expired-'));
    expect(later.filter((e) => e.event === 'permit')).toHaveLength(CAP);
    expect(later.find((e) => e.event === 'permit' && e.reservations === '0')).toBeDefined();

    // Nothing leaks: an expired member stays one more timeout (it takes fills that show late), so
    // the next reserving permit trims only those older than that; the key lives two timeouts.
    const flat = await r.zrangebyscore(keys.governorReservations, '-inf', '+inf', 'WITHSCORES');
    const members = flat.flatMap((m, i) =>
      i % 2 === 0 ? [{ planId: (JSON.parse(m) as { plan_id: string }).plan_id, expiresAt: Number(flat[i + 1]) }] : [],
    );
    expect(members.filter((m) => m.planId.startsWith('expired-'))).toHaveLength(CAP);
    const kept = members.filter((m) => !m.planId.startsWith('expired-'));
    expect(kept.every((m) => m.planId.startsWith('kill-') && m.expiresAt === expired)).toBe(true);
    const ttl = await r.ttl(keys.governorReservations);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2 * TIMEOUT_SEC);
    // Each of the 19 decisions was committed with its plan's ack.
    expect(await pendingCount(r, streams.applyPlan, 'governor')).toBe(0);
  }, 90_000);
});
