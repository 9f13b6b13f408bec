import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { loadPositionBook } from '../../handlers/positions/book.js';
import type { RedisReader } from '../../runtime/contract/index.js';
import { keys, streams } from '../../schemas/keys.js';
import { balanceTrackerSnapshot, BOOK_CONFIG, p33NewestHash, p33SeedHash } from '../support/book-producers.js';
import { refreshPositionIndex, usePrivateCommitter } from '../support/decide-once.js';
import { startP33KeyWatch } from '../support/key-watch.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { withoutCache } from '../support/runtime.js';

const config = BOOK_CONFIG;
const NOW = 1_800_000_000_000;
const HELD = 20;

/** Redis's calls per command since the last CONFIG RESETSTAT (INFO commandstats), the scripts' own commands included. */
async function commandCalls(r: Redis): Promise<Map<string, number>> {
  const info = (await r.call('INFO', 'commandstats')) as string;
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  calls.delete('info');
  calls.delete('config|resetstat');
  return calls;
}

/**
 * Issues #62 item 1 and #69 item 2: a decision's read of the book (through the P3.3 key watch, its
 * barrier's PING included) costs the same whatever the universe P3.3 reports flat and whatever our
 * view's index still names of expired rows. Counted in Redis's own commands
 * (not timed): 20 held positions (P3.3 under both layouts, the balance tracker's snapshots for half
 * of them), then the same beside 2,000 flat P3.3 symbols and 200 expired view rows.
 */
describe('the book read costs the same beside a flat universe (issue #62 item 1)', () => {
  const redis = usePrivateRedis();
  const commits = usePrivateCommitter(redis);

  async function seed(universe: number, expiredViewRows: number): Promise<string[]> {
    const r = redis.client;
    await r.flushall();
    const p = r.pipeline();
    const fresh = (NOW - 2_000) / 1000;
    const symbols: string[] = [];
    p.hset(keys.portfolioState, 'equity_usd', '100000', 'timestamp', String(fresh));
    p.xgroup('CREATE', streams.positionSnapshot, 'position_snapshot', '$', 'MKSTREAM');
    for (let i = 0; i < HELD; i++) {
      const symbol = `H${i}USDT`;
      symbols.push(symbol);
      p.hset(keys.p33PositionSnapshot(symbol), p33SeedHash(1, 100, fresh));
      p.hset(keys.p33StatePositions(symbol), p33NewestHash(symbol, 1, 100, fresh));
      p.hset(keys.marketState(symbol), { mark_price: '100', sigma: '0.02', timestamp: String(NOW - 1_000) });
      if (i % 2 === 0)
        p.xadd(streams.positionSnapshot, `${NOW - 3_000}-${i}`, ...Object.entries(balanceTrackerSnapshot(symbol, 1, 100, fresh)).flat());
    }
    for (let i = 0; i < universe; i++) {
      const symbol = `F${i}USDT`;
      symbols.push(symbol);
      p.hset(keys.p33PositionSnapshot(symbol), p33SeedHash(0, 10, fresh));
      p.hset(keys.p33StatePositions(symbol), p33NewestHash(symbol, 0, 10, fresh));
      p.hset(keys.marketState(symbol), { mark_price: '10', sigma: '0.05', timestamp: String(NOW - 1_000) });
    }
    // Balance-tracker rows that aged out (their TTL): their members stay until the index job prunes them.
    for (let i = 0; i < expiredViewRows; i++) p.sadd(keys.activePositions, `GONE${i}USDT`);
    for (const [error] of (await p.exec()) ?? []) if (error) throw error;
    expect(await refreshPositionIndex(r, commits.committer, NOW, { POSITION_P33_SYMBOLS: symbols.join(',') })).toBe('committed');
    return symbols;
  }

  /** The commands one read of the book sends, by name, for the governor's read and the heat gate's. */
  async function readCost(reader: RedisReader): Promise<Record<string, number>> {
    const r = redis.client;
    const cost: Record<string, number> = {};
    for (const options of [
      { now: NOW, withUnpriced: true },
      { now: NOW, withEquity: true, withUnpriced: true, allP33Quotes: true },
    ]) {
      await r.config('RESETSTAT');
      const { book } = await loadPositionBook(reader, config, options);
      expect(book.p33Listing).toBe('watched');
      expect(book.positions).toHaveLength(HELD);
      for (const [name, calls] of await commandCalls(r)) cost[name] = (cost[name] ?? 0) + calls;
    }
    return cost;
  }

  /** The cost of a read through the P3.3 key watch (live after its rebuild read every hash under P3.3's prefixes), on both paths. */
  async function watchedCost(): Promise<{ cached: Record<string, number>; plain: Record<string, number> }> {
    const watch = await startP33KeyWatch(redis.url, redis.client, config, () => NOW);
    try {
      return { cached: await readCost(watch.reader), plain: await readCost(withoutCache(watch.reader)) };
    } finally {
      await watch.stop();
    }
  }

  it.each([2_000, 20_000])(
    'sends the same commands with %i flat P3.3 symbols and 200 expired view rows as without, on both paths',
    async (universe) => {
      await seed(0, 0);
      const bare = await watchedCost();
      await seed(universe, 200);
      // The refresh took the expired rows' members out of our view index.
      expect(await redis.client.scard(keys.activePositions)).toBe(0);
      const beside = await watchedCost();
      expect(beside).toEqual(bare);
      // And the read is the held symbols' own: a few reads a symbol, not a read of the universe.
      expect(Object.values(bare.cached).reduce((a, b) => a + b, 0)).toBeLessThan(HELD * 20);
    },
    120_000,
  );
});
