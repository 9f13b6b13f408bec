import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { loadPositionBook, P33_KEY_WATCH } from '../../handlers/positions/book.js';
import type { ReadCommand } from '../../runtime/contract/redis-reader.js';
import { KEY_WATCH_EPOCH_KEY } from '../../runtime/host/key-watch.js';
import { keys } from '../../schemas/keys.js';
import { BOOK_CONFIG, p33NewestHash } from '../support/book-producers.js';
import { ManualClock } from '../support/clock.js';
import { startP33KeyWatch } from '../support/key-watch.js';
import { riskBudget } from '../../handlers/risk-budget/index.js';
import { decideOnce, refreshPositionIndex, usePrivateCommitter } from '../support/decide-once.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/runtime.js';

const config = BOOK_CONFIG;

/**
 * Issue #72 item 1: the book reads a held symbol's keys only when they were written since its last
 * read (the key watch's cache), and nothing it keeps outlives a keyspace emptied without events.
 */
describe('the key watch’s cache of the book’s reads', () => {
  const redis = usePrivateRedis();
  const committing = usePrivateCommitter(redis);

  it('a FLUSHALL (no keyspace events) loses the watch: the next read is sent whole, and the watch comes back by itself', async () => {
    const r = redis.client;
    const clock = new ManualClock(1_800_000_000_000);
    const held = async () => {
      await r.hset(keys.p33StatePositions('AUSDT'), p33NewestHash('AUSDT', 2, 100, clock.now() / 1000));
      await r.hset(keys.marketState('AUSDT'), { mark_price: '100', sigma: '0.02', timestamp: String(clock.now()) });
    };
    await held();
    const watch = await startP33KeyWatch(redis.url, r, config, clock);
    try {
      const read = () => loadPositionBook(watch.reader, config, { now: clock.now(), withUnpriced: true });
      expect((await read()).book.positions.map((p) => [p.symbol, p.notionalUsd])).toEqual([['AUSDT', 200]]);
      expect(await r.get(KEY_WATCH_EPOCH_KEY)).not.toBeNull();
      await r.flushall();
      // Nothing the cache kept counts: the barrier finds the epoch gone, and the book is read as Redis holds it.
      const emptied = await read();
      expect(emptied.book.p33Listing).toBe('all');
      expect(emptied.book.positions).toEqual([]);
      expect(await watch.reader.keysToRead?.(P33_KEY_WATCH)).toBeNull();
      expect(watch.watches.states()).toMatchObject({ [`key_watch:${P33_KEY_WATCH}`]: expect.stringContaining(KEY_WATCH_EPOCH_KEY) });
      // Its pause, then a subscription and rebuild of its own.
      await clock.advance(1_000);
      await waitFor(() => Object.values(watch.watches.states()).every((s) => s === 'live') || undefined, { what: 'the watch live again' });
      await held();
      const again = await read();
      expect(again.book.p33Listing).toBe('watched');
      expect(again.book.positions.map((p) => [p.symbol, p.notionalUsd])).toEqual([['AUSDT', 200]]);
    } finally {
      await watch.stop();
    }
  });

  it('keyspace events without $, s and z: P3.3 judged as ever, no reply kept (every read sent), until they are added', async () => {
    const r = redis.client;
    await r.config('SET', 'notify-keyspace-events', 'Khgx');
    const clock = new ManualClock(1_800_000_000_000);
    await r.hset(keys.p33StatePositions('AUSDT'), p33NewestHash('AUSDT', 2, 100, clock.now() / 1000));
    const watch = await startP33KeyWatch(redis.url, r, config, clock);
    const symbolReads = async () => {
      await r.config('RESETSTAT');
      const { book } = await loadPositionBook(watch.reader, config, { now: clock.now(), withUnpriced: true });
      expect(book.positions.map((p) => [p.symbol, p.notionalUsd])).toEqual([['AUSDT', 200]]);
      expect(book.p33Listing).toBe('watched');
      const info = (await r.call('INFO', 'commandstats')) as string;
      return [...info.matchAll(/^cmdstat_(hmget|hget|hgetall):calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[2]), 0);
    };
    try {
      expect(watch.watches.states()).toEqual({
        [`key_watch:${P33_KEY_WATCH}`]: 'live',
        [`key_watch_cache:${P33_KEY_WATCH}`]: expect.stringMatching(/lacks \$sz: the position book sends every read/),
      });
      expect(await symbolReads()).toBeGreaterThan(0);
      expect(await symbolReads()).toBeGreaterThan(0);
      await r.config('SET', 'notify-keyspace-events', 'KA');
      // The next barrier sees them: replies kept from then on.
      expect(await symbolReads()).toBeGreaterThan(0);
      expect(watch.watches.states()[`key_watch_cache:${P33_KEY_WATCH}`]).toBe('live');
      expect(await symbolReads()).toBe(0);
    } finally {
      await watch.stop();
      await r.config('SET', 'notify-keyspace-events', 'KA');
    }
  });

  it('keeps the listings until written: a warm read sends no SMEMBERS, ZRANGEBYSCORE or SISMEMBER; a position opened since is read', async () => {
    const r = redis.client;
    const clock = new ManualClock(1_800_000_000_000);
    const openInView = async (symbol: string, notional: number) => {
      await r.hset(keys.position(symbol), {
        position_notional_usd: String(notional),
        qty: '1',
        mark_price: String(notional),
        updated_at: String(clock.now()),
      });
      await r.sadd(keys.activePositions, symbol);
    };
    await openInView('AUSDT', 100);
    await r.zadd(keys.p33Watch, String(clock.now() + 60_000), 'AUSDT');
    await r.sadd(keys.p33PositionIndex, 'AUSDT');
    const watch = await startP33KeyWatch(redis.url, r, config, clock);
    const readBook = async () => {
      await r.config('RESETSTAT');
      const { book } = await loadPositionBook(watch.reader, config, { now: clock.now(), withUnpriced: true });
      const info = (await r.call('INFO', 'commandstats')) as string;
      const listings = [...info.matchAll(/^cmdstat_(smembers|zrangebyscore|sismember):calls=(\d+)/gm)].reduce(
        (sum, m) => sum + Number(m[2]),
        0,
      );
      return { positions: book.positions.map((p) => [p.symbol, p.notionalUsd]).sort(), listings };
    };
    try {
      expect(await readBook()).toEqual({ positions: [['AUSDT', 100]], listings: 3 });
      expect(await readBook()).toEqual({ positions: [['AUSDT', 100]], listings: 0 });
      // Our view's index written: its reply goes, the next read sends it (and only it) and sees the position.
      await openInView('BUSDT', 50);
      expect(await readBook()).toEqual({
        positions: [
          ['AUSDT', 100],
          ['BUSDT', 50],
        ],
        listings: 1,
      });
      // An index of another type: its refusal is kept as its answer, the listing named unreadable at every read.
      await r.del(keys.p33PositionIndex);
      await r.set(keys.p33PositionIndex, 'not a set');
      for (let i = 0; i < 2; i++) {
        const { book } = await loadPositionBook(watch.reader, config, { now: clock.now(), withUnpriced: true });
        expect(book.unreadableListings.map((u) => [u.listing, u.key])).toEqual([['p33', keys.p33PositionIndex]]);
      }
    } finally {
      await watch.stop();
    }
  });

  it('keeps only reads of its cached prefixes: another key, or an EXISTS of a kept key, is sent at every call', async () => {
    const r = redis.client;
    const clock = new ManualClock(1_800_000_000_000);
    await r.hset(keys.marketState('AUSDT'), { mark_price: '100', timestamp: String(clock.now()) });
    await r.set('quantum:elsewhere:AUSDT', 'x');
    const watch = await startP33KeyWatch(redis.url, r, config, clock);
    const sent = async (reads: ReadCommand[]) => {
      expect(await watch.reader.keysToRead?.(P33_KEY_WATCH)).not.toBeNull();
      await r.config('RESETSTAT');
      const replies = await watch.reader.cachedReads?.(P33_KEY_WATCH, reads);
      const info = (await r.call('INFO', 'commandstats')) as string;
      const calls = [...info.matchAll(/^cmdstat_(hmget|get|exists):calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[2]), 0);
      return { replies, calls };
    };
    try {
      const mark: ReadCommand = ['HMGET', keys.marketState('AUSDT'), 'mark_price'];
      expect(await sent([mark])).toEqual({ replies: [['100']], calls: 1 });
      // Kept: answered with nothing sent.
      expect(await sent([mark])).toEqual({ replies: [['100']], calls: 0 });
      // Outside the cached prefixes, and an EXISTS of the kept key: sent each time, the kept read still kept.
      const others: ReadCommand[] = [['GET', 'quantum:elsewhere:AUSDT'], ['EXISTS', keys.marketState('AUSDT')], mark];
      expect(await sent(others)).toEqual({ replies: ['x', 1, ['100']], calls: 2 });
      expect(await sent(others)).toEqual({ replies: ['x', 1, ['100']], calls: 2 });
    } finally {
      await watch.stop();
    }
  });

  it('a P3.3 write read once for its events, and that read kept: the next decision sends none of its own for it', async () => {
    const r = redis.client;
    const clock = new ManualClock(1_800_000_000_000);
    const key = keys.p33StatePositions('AUSDT');
    await r.hset(key, p33NewestHash('AUSDT', 2, 100, clock.now() / 1000));
    const watch = await startP33KeyWatch(redis.url, r, config, clock);
    const notional = async () => (await loadPositionBook(watch.reader, config, { now: clock.now(), withUnpriced: true })).book.positions;
    const callsOf = async (name: string) =>
      Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec((await r.call('INFO', 'commandstats')) as string)?.[1] ?? 0);
    try {
      expect((await notional()).map((p) => [p.symbol, p.notionalUsd])).toEqual([['AUSDT', 200]]);
      await r.config('RESETSTAT');
      // As P3.3 writes its hash, HSET then EXPIRE (upstream microservices/position_state_brain/main.py
      // @73fab1f55 lines 531-532), two events; here in one MULTI, so that both come in one turn.
      await r
        .multi()
        .hset(key, p33NewestHash('AUSDT', 3, 100, clock.now() / 1000))
        .expire(key, 3600)
        .exec();
      expect((await notional()).map((p) => [p.symbol, p.notionalUsd])).toEqual([['AUSDT', 300]]);
      // The key watch's read of the key, once for both events; the book's read of it answered by that reply.
      expect(await callsOf('hmget')).toBe(1);
      await r.config('RESETSTAT');
      expect((await notional()).map((p) => [p.symbol, p.notionalUsd])).toEqual([['AUSDT', 300]]);
      expect(await callsOf('hmget')).toBe(0);
    } finally {
      await watch.stop();
    }
  });
  it('the position index refresh reads P3.3’s universe through the kept replies: a hash is read again only once written', async () => {
    const r = redis.client;
    const clock = new ManualClock(1_800_000_000_000);
    const nowSec = () => clock.now() / 1000;
    const symbols = Array.from({ length: 300 }, (_, i) => `FLAT${i}USDT`);
    // As P3.3 writes a symbol it holds nothing of (test/support/book-producers.ts p33NewestHash).
    for (const symbol of symbols) await r.hset(keys.p33StatePositions(symbol), p33NewestHash(symbol, 0, 10, nowSec()));
    await r.set(keys.universeActive, JSON.stringify({ symbols }));
    const watch = await startP33KeyWatch(redis.url, r, config, clock);
    const hmgets = async () => Number(/^cmdstat_hmget:calls=(\d+)/m.exec((await r.call('INFO', 'commandstats')) as string)?.[1] ?? 0);
    // Past a barrier first, so that the key watch's own reads of what a test wrote fall before the count.
    const refresh = async () => {
      expect(await watch.reader.keysToRead?.(P33_KEY_WATCH)).not.toBeNull();
      await r.config('RESETSTAT');
      await refreshPositionIndex(watch.reader, committing.committer, clock.now());
      return { hmget: await hmgets(), indexed: await r.scard(keys.p33PositionIndex) };
    };
    try {
      // The first refresh reads every symbol under both prefixes (and the book's mark on the listing,
      // one HMGET): each has a P3.3 hash, so each is listed.
      expect(await refresh()).toEqual({ hmget: 601, indexed: 300 });
      expect(await refresh()).toEqual({ hmget: 1, indexed: 300 });
      // A hash written since: read by the key watch at its write (judged), not by the refresh.
      await r.hset(keys.p33StatePositions('FLAT7USDT'), p33NewestHash('FLAT7USDT', 5, 10, nowSec()));
      expect(await refresh()).toEqual({ hmget: 1, indexed: 300 });
      // A hash gone: seen gone without a read of the refresh's own; its symbol leaves the index.
      await r.del(keys.p33StatePositions('FLAT7USDT'));
      expect(await refresh()).toEqual({ hmget: 1, indexed: 299 });
      expect(await r.sismember(keys.p33PositionIndex, 'FLAT7USDT')).toBe(0);
    } finally {
      await watch.stop();
    }
  });
  it('the budget tick reads the market state through the kept replies: a hash is read again only once written', async () => {
    const r = redis.client;
    const clock = new ManualClock(1_800_000_000_000);
    const symbols = Array.from({ length: 120 }, (_, i) => `UNI${i}USDT`);
    // The budget engine's symbols: P3.3's index (the position index job's), each with its market state.
    await r.sadd(keys.p33PositionIndex, ...symbols);
    for (const symbol of symbols) await r.hset(keys.marketState(symbol), { sigma: '0.02', vol_regime: 'LOW' });
    await r.hset(keys.portfolioState, { equity_usd: '10000', timestamp: String(clock.now() / 1000) });
    const watch = await startP33KeyWatch(redis.url, r, config, clock);
    const hgetalls = async () => Number(/^cmdstat_hgetall:calls=(\d+)/m.exec((await r.call('INFO', 'commandstats')) as string)?.[1] ?? 0);
    let tick = 0;
    const marketReads = async () => {
      expect(await watch.reader.keysToRead?.(P33_KEY_WATCH)).not.toBeNull();
      const before = await hgetalls();
      await decideOnce(riskBudget, watch.reader, committing.committer, clock.now(), { job_id: `tick-${++tick}` });
      return (await hgetalls()) - before;
    };
    try {
      // Every symbol's, and the tick's others (the portfolio, its last-known-good, the cluster's stress: never kept).
      const first = await marketReads();
      const others = await marketReads();
      expect(first - others).toBeGreaterThanOrEqual(symbols.length);
      const stress = () => Promise.all(['UNI7USDT', 'UNI8USDT'].map((symbol) => r.hget(keys.budget(symbol), 'stress_factor')));
      const [calm] = await stress();
      await r.hset(keys.marketState('UNI7USDT'), { vol_regime: 'EXTREME' });
      expect(await marketReads()).toBe(others + 1);
      // The tick decided on the hash as written: UNI7's stress rose, UNI8's did not.
      const [seven, eight] = await stress();
      expect(Number(seven)).toBeGreaterThan(Number(calm));
      expect(eight).toBe(calm);
    } finally {
      await watch.stop();
    }
  });
  it('the refresh and the tick each take a barrier of their own: a write whose event is still on its way is in their answer', async () => {
    const r = redis.client;
    const clock = new ManualClock(1_800_000_000_000);
    const symbols = Array.from({ length: 50 }, (_, i) => `HELD${i}USDT`);
    for (const symbol of symbols) {
      await r.hset(keys.p33StatePositions(symbol), p33NewestHash(symbol, 0, 10, clock.now() / 1000));
      await r.hset(keys.marketState(symbol), { vol_regime: 'LOW' });
    }
    await r.set(keys.universeActive, JSON.stringify({ symbols }));
    await r.hset(keys.portfolioState, { equity_usd: '10000', timestamp: String(clock.now() / 1000) });
    // The key watch's subscriber through a proxy that can hold its bytes: its events, then its PONG.
    const proxy = await startTcpProxy({ port: Number(new URL(redis.url).port) });
    const watch = await startP33KeyWatch(proxy.url, r, config, clock);
    const tick = (n: number) => decideOnce(riskBudget, watch.reader, committing.committer, clock.now(), { job_id: `held-${n}` });
    /** `run` started while the watch's events are held, which flow 200 ms later. */
    const withEventsHeld = async (write: () => Promise<unknown>, run: () => Promise<unknown>) => {
      proxy.blackhole({ mode: 'hold' });
      await write();
      const running = run();
      await sleep(200);
      await proxy.restore();
      await running;
    };
    try {
      // Every reply kept by a first refresh and tick, past a barrier as the gates sharing the process
      // take one at every decision (the watch keeps replies only past one).
      expect(await watch.reader.keysToRead?.(P33_KEY_WATCH)).not.toBeNull();
      await refreshPositionIndex(watch.reader, committing.committer, clock.now());
      await tick(1);
      expect(await r.sismember(keys.p33PositionIndex, 'HELD7USDT')).toBe(1);
      expect(await r.hget(keys.budget('HELD8USDT'), 'vol_regime')).toBe('0.0');
      await withEventsHeld(
        () => r.del(keys.p33StatePositions('HELD7USDT')),
        () => refreshPositionIndex(watch.reader, committing.committer, clock.now()),
      );
      expect(await r.sismember(keys.p33PositionIndex, 'HELD7USDT')).toBe(0);
      await withEventsHeld(
        () => r.hset(keys.marketState('HELD8USDT'), { vol_regime: 'EXTREME' }),
        () => tick(2),
      );
      expect(await r.hget(keys.budget('HELD8USDT'), 'vol_regime')).toBe('1.0');
    } finally {
      await watch.stop();
      await proxy.close();
    }
  });
});
