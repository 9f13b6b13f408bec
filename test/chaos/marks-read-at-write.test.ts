import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { loadPositionBook } from '../../handlers/positions/book.js';
import { REDIS_PROTOCOL } from '../../runtime/host/redis.js';
import { keys } from '../../schemas/keys.js';
import { BOOK_CONFIG, p33NewestHash, TICKER_TTL_SEC, tickerHash } from '../support/book-producers.js';
import { startP33KeyWatch } from '../support/key-watch.js';
import { usePrivateRedis } from '../support/redis-server.js';

const SYMBOLS = Array.from({ length: 20 }, (_, i) => `M${i}USDT`);
/** The writes, reads and kills go on this long. */
const CHAOS_MS = 4_000;

/**
 * A mark a decision read is read again at its next write (1.11.2, runtime/host/key-watch.ts
 * readEventKeys), so at the write's moment, not the next decision's. Here the tickers of 20 held
 * symbols are rewritten as fast as Redis takes them, twice each time, each mark higher than the last, while the
 * connection those reads go on is killed every 150 ms. A read again that a later write overtook,
 * or that failed, must never stand for the newest mark: after each write, the book read next must
 * price its symbol at that mark, and every other at its own last.
 */
describe('marks read at their write while the reads’ connection is killed (chaos)', () => {
  const redis = usePrivateRedis();

  it('prices every symbol at its last mark written before the read, whatever the kills', async () => {
    const r = redis.client;
    const nowMs = Date.now();
    for (const symbol of SYMBOLS) await r.hset(keys.p33StatePositions(symbol), p33NewestHash(symbol, 1, 1, nowMs / 1000));
    const commands = new Redis(redis.url, { protocol: REDIS_PROTOCOL, maxRetriesPerRequest: 1 });
    commands.on('error', () => undefined);
    const watch = await startP33KeyWatch(redis.url, commands, BOOK_CONFIG, () => Date.now());
    const last = new Map<string, number>();
    const writeTicker = async (symbol: string, mark: number) => {
      await r
        .multi()
        .hset(keys.ticker(symbol), tickerHash(symbol, mark, Date.now()))
        .expire(keys.ticker(symbol), TICKER_TTL_SEC)
        .exec();
      last.set(symbol, mark);
    };
    for (const symbol of SYMBOLS) await writeTicker(symbol, 2);
    const marks = async () => {
      const { book } = await loadPositionBook(watch.reader, BOOK_CONFIG, { now: Date.now(), withUnpriced: true });
      return new Map(SYMBOLS.map((s) => [s, Math.max(...(book.quotes.get(s) ?? []).map((q) => Number(q[0])).filter(Number.isFinite))]));
    };
    let killing = true;
    let kills = 0;
    const killer = (async () => {
      while (killing) {
        await sleep(150);
        const id = await commands.client('ID').catch(() => undefined);
        if (id !== undefined && (await r.client('KILL', 'ID', String(id)).catch(() => 0)) === 1) kills++;
      }
    })();
    let checked = 0;
    let failedReads = 0;
    try {
      for (let mark = 3, until = Date.now() + CHAOS_MS; Date.now() < until; mark++) {
        const symbol = SYMBOLS[mark % SYMBOLS.length]!;
        // Twice, the second while the first's read again may be in flight: that reply is older than the key.
        await writeTicker(symbol, mark);
        await writeTicker(symbol, mark + 0.5);
        // A read the kill failed is the decision's failure (the runtime tries it again), not a mark.
        const read = await marks().catch(() => undefined);
        if (read === undefined) {
          failedReads++;
          continue;
        }
        expect(read).toEqual(last);
        checked++;
      }
    } finally {
      killing = false;
      await killer;
      await watch.stop();
      commands.disconnect();
    }
    expect(kills, 'the reads’ connection was killed').toBeGreaterThan(10);
    expect(checked, `${failedReads} reads failed to kills`).toBeGreaterThan(100);
  });
});
