import { afterEach, describe, expect, it } from 'vitest';
import { preflightRedis } from '../../app/redis-preflight.js';
import { parseRuntimeConfig } from '../../runtime/host/index.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { p33NewestHash } from '../support/book-producers.js';
import { hostClockApart } from '../support/clock.js';
import { refreshPositionIndex, usePrivateCommitter } from '../support/decide-once.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, startRuntime, waitFor } from '../support/runtime.js';
import { untilStream } from '../support/until.js';

const nowSec = () => Math.floor(Date.now() / 1000);
const WATCH_CHECK = 'key_watch:p33-positions';

/**
 * Issue #69 item 2: a figure written before a message is in that message's decision. P3.3's writes
 * reach the book through the key watch (runtime/host/key-watch.ts), not through the position index
 * job's refresh; a permitted open counts until its fill is in the book, however late that job runs.
 */
describe('a P3.3 write before a plan is in its decision (issue #69 item 2)', () => {
  const redis = usePrivateRedis();
  const commits = usePrivateCommitter(redis);
  const running: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.stop()));
    await redis.client.config('SET', 'notify-keyspace-events', 'KA');
  });

  const start = async (env: Record<string, string>, offset = { ms: 0 }) => {
    const runtime = await startRuntime(redis.url, env, undefined, { clock: hostClockApart(() => offset.ms) });
    running.push(runtime);
    return runtime;
  };
  const watchState = (runtime: Runtime) => (runtime.readiness().checks as Record<string, unknown>)[WATCH_CHECK];
  const untilLive = (runtime: Runtime) =>
    waitFor(() => watchState(runtime) === 'live' || undefined, { what: 'the P3.3 key watch live', timeoutMs: 10_000, intervalMs: 20 });

  const ledger = async (symbol: string, amt: number, mark: number) => {
    await redis.client.hset(keys.p33StatePositions(symbol), p33NewestHash(symbol, amt, mark, nowSec()));
    await redis.client.expire(keys.p33StatePositions(symbol), 3600);
  };
  let seq = 0;
  const open = async (symbol: string, qty: string, mark: number) => {
    const planId = `fresh-${++seq}`;
    await redis.client.hset(keys.marketState(symbol), { mark_price: String(mark), timestamp: String(Date.now()) });
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
      qty,
    );
    return planId;
  };
  const verdict = (planId: string) =>
    untilStream(
      redis.client,
      streams.governorEvents,
      (events) => events.find((e) => e.plan_id === planId && (e.event === 'permit' || e.event === 'block')),
      {
        what: `the governor's verdict on ${planId}`,
      },
    );

  // Five held ($1,944) and a flat XRPUSDT, as P3.3 writes its allowlist.
  const held: [string, number, number][] = [
    ['BTCUSDT', 0.005, 60_000],
    ['ETHUSDT', 0.2, 3_000],
    ['SOLUSDT', -2, 150],
    ['DOGEUSDT', 1_000, 0.144],
    ['ADAUSDT', 1_200, 0.5],
  ];

  it('a hash turned flat → held right before a plan counts in that plan, with POSITION_INDEX_REFRESH_SEC an hour', async () => {
    for (const [symbol, amt, mark] of held) await ledger(symbol, amt, mark);
    await ledger('XRPUSDT', 0, 2.35);
    const runtime = await start({
      HANDLERS: 'position-index,governor',
      POSITION_P33_SYMBOLS: [...held.map(([s]) => s), 'XRPUSDT'].join(','),
      POSITION_INDEX_REFRESH_SEC: '3600',
    });
    await waitFor(async () => (await redis.client.scard(keys.p33PositionIndex)) === 6 || undefined, { what: 'the first index refresh' });
    await untilLive(runtime);
    // P3.3 reports XRPUSDT filled (not through this governor), and the next plan arrives at once.
    await ledger('XRPUSDT', 50, 2.35);
    const planId = await open('BNBUSDT', '0.01', 690);
    // 300 + 600 + 300 + 144 + 600 + 117.5 = $2,061.50 ≥ the $2,000 total cap; without XRPUSDT $1,944 + $6.90 passes.
    expect(await verdict(planId)).toMatchObject({
      event: 'block',
      reason: 'total_notional_exceeded',
      open_positions: '6',
      total_notional: '2061.5',
    });
  });

  it.each([
    ['live', 'KA'],
    ['off (every listed hash read)', ''],
  ])('a permitted open’s fill counts after its reservation expired and before the index lists it: key watch %s', async (_watch, events) => {
    await redis.client.config('SET', 'notify-keyspace-events', events);
    const nine = Array.from({ length: 9 }, (_, i) => `H${i}USDT`);
    for (const symbol of nine) await ledger(symbol, 1, 10);
    // The index job ran just before the permit, and runs next only after the reservation expired.
    expect(await refreshPositionIndex(redis.client, commits.committer, Date.now(), { POSITION_P33_SYMBOLS: nine.join(',') })).toBe(
      'committed',
    );
    const offset = { ms: 0 };
    const runtime = await start({ HANDLERS: 'governor', GOV_RESERVATION_TIMEOUT_SEC: '1' }, offset);
    if (events !== '') await untilLive(runtime);
    else await waitFor(() => String(watchState(runtime)).includes('notify-keyspace-events') || undefined, { what: 'the watch off, named' });
    const a = await open('AAAUSDT', '1', 100);
    expect(await verdict(a)).toMatchObject({ event: 'permit', open_positions: '9' });
    // A fills; its reservation expires (the gates' clock moves 2 s on) before any refresh lists it.
    await ledger('AAAUSDT', 1, 100);
    offset.ms += 2_000;
    const b = await open('BBBUSDT', '1', 100);
    expect(await verdict(b)).toMatchObject({ event: 'block', reason: 'max_positions_reached', open_positions: '10' });
    if (events === '') expect(await metricSum(runtime, 'quantum_gates_key_watch_fallback_total')).toBeGreaterThan(0);
  });

  it('the start stops naming notify-keyspace-events when keyspace events are off; a gate without the book needs none', async () => {
    const config = parseRuntimeConfig({ REDIS_URL: redis.url });
    await redis.client.config('SET', 'notify-keyspace-events', 'Ex');
    await expect(preflightRedis(config, 2_000, ['governor'], true)).rejects.toThrow(
      /^notify-keyspace-events: Redis publishes no keyspace events the position book needs \(notify-keyspace-events "xE", missing Khg\): add Khg/,
    );
    await expect(preflightRedis(config, 2_000, ['governor'], false)).resolves.toBeUndefined();
    await redis.client.config('SET', 'notify-keyspace-events', 'KA');
    await expect(preflightRedis(config, 2_000, ['governor'], true)).resolves.toBeUndefined();
  });
});
