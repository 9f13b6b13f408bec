import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { p33NewestHash } from '../support/book-producers.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, startRuntime, waitFor } from '../support/runtime.js';
import { untilStream } from '../support/until.js';

const nowSec = () => Math.floor(Date.now() / 1000);
const WATCH_CHECK = 'key_watch:p33-positions';

/**
 * The key watch's subscriber connection killed (CLIENT KILL TYPE pubsub): decisions read every hash
 * P3.3's index lists meanwhile (counted, named on /ready's checks), never short of a position, and
 * the watch subscribes, rebuilds and is live again by itself. Its resubscribe is held off by an ACL
 * that refuses PSUBSCRIBE while the test decides plans in the gap, so the gap does not depend on how
 * fast the machine reconnects.
 */
describe('the key watch’s subscriber connection killed (chaos)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    await redis.client.call('ACL', 'SETUSER', 'default', 'on', 'nopass', '+@all', '~*', '&*');
  });

  const ledger = async (symbol: string, amt: number, mark: number) => {
    await redis.client.hset(keys.p33StatePositions(symbol), p33NewestHash(symbol, amt, mark, nowSec()));
    await redis.client.expire(keys.p33StatePositions(symbol), 3600);
  };
  let seq = 0;
  /** An open of $1 on a flat symbol: permitted unless the book's positions and the reservations make 10. */
  const decide = async () => {
    const planId = `killed-${++seq}`;
    const symbol = `NEW${seq}USDT`;
    await redis.client.hset(keys.marketState(symbol), { mark_price: '1', timestamp: String(Date.now()) });
    await redis.client.xadd(
      streams.applyPlan,
      '*',
      'plan_id',
      planId,
      'symbol',
      symbol,
      'action',
      'ENTRY_PROPOSED',
      'decision',
      'EXECUTE',
      'side',
      'BUY',
      'qty',
      '1',
    );
    return untilStream(
      redis.client,
      streams.governorEvents,
      (events) => events.find((e) => e.plan_id === planId && (e.event === 'permit' || e.event === 'block')),
      {
        what: `the verdict on ${planId}`,
      },
    );
  };
  const state = () => (runtime!.readiness().checks as Record<string, unknown>)[WATCH_CHECK];

  it('decides on every listed hash while it is down, counted and named, and is live again by itself', async () => {
    const held = Array.from({ length: 8 }, (_, i) => `H${i}USDT`);
    for (const symbol of held) await ledger(symbol, 1, 10);
    await ledger('LATEUSDT', 0, 10);
    runtime = await startRuntime(redis.url, {
      HANDLERS: 'position-index,governor',
      POSITION_P33_SYMBOLS: [...held, 'LATEUSDT'].join(','),
      POSITION_INDEX_REFRESH_SEC: '3600',
      GOV_SYMBOL_COOLDOWN_SECONDS: '0',
      GOV_MAX_EXEC_PER_HOUR: '1000',
      GOV_MAX_EXEC_PER_5MIN: '1000',
    });
    await waitFor(() => state() === 'live' || undefined, { what: 'the key watch live' });
    // Eight held: permitted, and reserved (one of ten).
    expect(await decide()).toMatchObject({ event: 'permit', open_positions: '8' });
    const fellBack = await metricSum(runtime, 'quantum_gates_key_watch_fallback_total');

    // Kill it, and hold its resubscribe off: PSUBSCRIBE refused.
    await redis.client.call('ACL', 'SETUSER', 'default', '-psubscribe');
    await redis.client.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await waitFor(() => (state() !== 'live' && String(state()).includes('subscribing failed')) || undefined, {
      what: 'the watch lost, named',
    });
    expect(runtime.readiness().ready).toBe(true);
    // A position P3.3 writes meanwhile is counted (nine held and the reservation): the index lists LATEUSDT, and every listed hash is read.
    await ledger('LATEUSDT', 1, 10);
    const during = await decide();
    expect(during).toMatchObject({ event: 'block', reason: 'max_positions_reached' });
    expect(await metricSum(runtime, 'quantum_gates_key_watch_fallback_total')).toBeGreaterThan(fellBack);

    // Allowed again: the watch subscribes, rebuilds and is live by itself; a close seen through it.
    await redis.client.call('ACL', 'SETUSER', 'default', '+psubscribe');
    await waitFor(() => state() === 'live' || undefined, { what: 'the key watch live again', timeoutMs: 15_000 });
    const liveAgain = await metricSum(runtime, 'quantum_gates_key_watch_fallback_total');
    await ledger('LATEUSDT', 0, 10);
    expect(await decide()).toMatchObject({ event: 'permit', open_positions: '8' });
    expect(await metricSum(runtime, 'quantum_gates_key_watch_fallback_total')).toBe(liveAgain);
  });
});
