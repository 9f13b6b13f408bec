import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { bookPositionSource } from '../../handlers/governor/positions.js';
import { loadPositionBook, p33KeyWatch, P33_KEY_WATCH, type PositionBookConfig } from '../../handlers/positions/book.js';
import { sendRead } from '../../runtime/contract/index.js';
import { loadHeatInputs } from '../../handlers/positions/heat.js';
import { priceQuoteReads, priceQuotesOf, readPriceQuotes } from '../../handlers/positions/prices.js';
import { sendReadsSettled } from '../../handlers/positions/read-commands.js';
import type { RedisReader } from '../../runtime/contract/index.js';
import { P33_REFRESHED_FIELD, P33_UNREADABLE_FIELD } from '../../handlers/positions/memory.js';
import { keys, streams } from '../../schemas/keys.js';
import { refreshPositionIndex, usePrivateCommitter } from '../support/decide-once.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { startP33KeyWatch } from '../support/key-watch.js';
import { waitFor, withoutCache, withoutKeyWatch } from '../support/runtime.js';

const config: PositionBookConfig = {
  POSITION_SNAPSHOT_STREAM: streams.positionSnapshot,
  POSITION_SNAPSHOT_GROUP: 'position_snapshot',
  POSITION_BOOK_MAX_PENDING: 1000,
  POSITION_MAX_AGE_SEC: 120,
  PRICE_MAX_AGE_SEC: 30,
};
const NOW = 1_800_000_000_000;
const SYMBOLS = ['AUSDT', 'BUSDT', 'CUSDT'] as const;

/** Figures as producers write them, and as they should not: what parseNumber accepts and refuses. */
const figure = fc.option(
  fc.constantFrom(
    '0',
    '-0',
    '0.00',
    '1000',
    '-2500.5',
    '0.2',
    '1.',
    '1e-05',
    '+0.3',
    '.5',
    '',
    'abc',
    ' 1',
    'NaN',
    '1e400',
    '9'.repeat(41),
  ),
  { nil: undefined },
);
// Times in ms and in s, stamped a minute ahead of the clock too (a quote of no moment, prices.ts refuses it).
const time = fc.option(
  fc.constantFrom(String(NOW - 5_000), String((NOW - 3_000) / 1000), String(NOW + 60_000), String((NOW + 60_000) / 1000), 'later', ''),
  { nil: undefined },
);

/** Only the fields given: an absent one is absent from the hash. */
const hash = <T extends Record<string, string | undefined>>(fields: fc.Arbitrary<T>) =>
  fields.map((f) => Object.fromEntries(Object.entries(f).filter((e): e is [string, string] => e[1] !== undefined)));

const viewRow = hash(
  fc.record({ position_notional_usd: figure, sigma: figure, volatility: figure, qty: figure, mark_price: figure, updated_at: time }),
);
const p33Hash = hash(fc.record({ position_amt: figure, mark_price: figure, ts_epoch: time, position_notional_usd: figure, sigma: figure }));
const sigmaHash = hash(fc.record({ sigma: figure }));

const perSymbol = fc.record({
  view: fc.option(viewRow, { nil: undefined }),
  p33Seed: fc.option(p33Hash, { nil: undefined }),
  p33Newest: fc.option(p33Hash, { nil: undefined }),
  marketState: fc.option(hash(fc.record({ sigma: figure, mark_price: figure, timestamp: time })), { nil: undefined }),
  ticker: fc.option(hash(fc.record({ markPrice: figure, timestamp: time })), { nil: undefined }),
  published: fc.option(sigmaHash, { nil: undefined }),
  // Keys of another type (Redis refuses to read them): each its symbol's problem only.
  wrongType: fc.subarray(['view', 'p33Seed', 'p33Newest', 'marketState', 'published', 'ticker'] as const),
  // P3.3's hashes not in our index yet (the index job finds them within POSITION_INDEX_REFRESH_SEC).
  unlisted: fc.boolean(),
  // Our view's leg rows (a hedge-mode tracker's), newest last: as position-snapshot writes them, beside
  // a symbol row that names the newest one's side (or none left: a leg applied too late takes it).
  legs: fc.array(fc.tuple(fc.constantFrom('LONG', 'SHORT'), viewRow), { maxLength: 2 }),
  // The book's memory of the symbol's legs, by which lanes (unreadable values too: held by no one known).
  held: fc.array(
    fc.tuple(
      fc.constantFrom('LONG', 'SHORT'),
      fc.oneof(
        fc
          .subarray(['snapshot', keys.p33PositionSnapshot(''), keys.p33StatePositions('')], { minLength: 1 })
          .map((by) => JSON.stringify({ by, at: NOW - 10_000 })),
        fc.constant('not json'),
      ),
    ),
    { maxLength: 2 },
  ),
  // The seeds' format, or the balance tracker's (position_qty, mark_price, side: a mark of 0 is unpriced).
  snapshot: fc.option(
    fc.oneof(
      fc.record({ position_notional_usd: figure, sigma: figure }),
      fc.record({ position_qty: figure, mark_price: figure, side: fc.option(fc.constantFrom('LONG', 'SHORT'), { nil: undefined }) }),
    ),
    { nil: undefined },
  ),
});

/**
 * The memory's mark on P3.3's listing (memory.ts: a sighting of P3.3's index unreadable, the index
 * job's refresh after it, either hand-written garbage), and P3.3's index of another type: both
 * paths judge them in the one fold.
 */
const listingDrawn = fc.record({
  indexWrongType: fc.boolean(),
  unreadable: fc.option(fc.constantFrom(String(NOW - 5_000), String(NOW + 5_000), 'garbage'), { nil: undefined }),
  refreshed: fc.option(fc.constantFrom(String(NOW - 10_000), String(NOW - 1_000), 'junk'), { nil: undefined }),
});

type Books = readonly (typeof perSymbol extends fc.Arbitrary<infer T> ? T : never)[];

/** Writes each symbol's keys as `books` say, after the stray snapshot entry if any (the properties' world). */
async function seedBooks(r: Redis, books: Books, stray: readonly string[]): Promise<void> {
  await r.hset(keys.portfolioState, 'equity_usd', '10000');
  await r.xgroup('CREATE', config.POSITION_SNAPSHOT_STREAM, config.POSITION_SNAPSHOT_GROUP, '$', 'MKSTREAM');
  if (stray.length > 0) await r.xadd(config.POSITION_SNAPSHOT_STREAM, '*', ...stray, 'sigma', '0.1');
  for (const [i, book] of books.entries()) {
    const symbol = SYMBOLS[i]!;
    const wrong = new Set<string>(book.wrongType);
    const put = async (key: string, fields: Record<string, string> | undefined, name: (typeof book.wrongType)[number]) => {
      if (wrong.has(name)) await r.rpush(key, 'not a hash');
      else if (fields !== undefined && Object.keys(fields).length > 0) await r.hset(key, fields);
    };
    const newestLeg = book.legs.at(-1)?.[0];
    const symbolRow = book.view && newestLeg !== undefined ? { ...book.view, side: newestLeg } : book.view;
    if (symbolRow || wrong.has('view')) {
      await put(keys.position(symbol), symbolRow, 'view');
      await r.sadd(keys.activePositions, symbol);
    }
    for (const [leg, row] of book.legs) {
      if (Object.keys(row).length > 0) await r.hset(keys.positionLeg(symbol, leg), { ...row, side: leg });
      await r.sadd(keys.activePositions, symbol);
    }
    for (const [leg, value] of book.held) await r.hset(keys.positionsHeld, `${symbol}:${leg}`, value);
    await put(keys.p33PositionSnapshot(symbol), book.p33Seed, 'p33Seed');
    await put(keys.p33StatePositions(symbol), book.p33Newest, 'p33Newest');
    if ((book.p33Seed || book.p33Newest || wrong.has('p33Seed') || wrong.has('p33Newest')) && !book.unlisted)
      await r.sadd(keys.p33PositionIndex, symbol);
    await put(keys.marketState(symbol), book.marketState, 'marketState');
    await put(keys.marketStatePublished(symbol), book.published, 'published');
    await put(keys.ticker(symbol), book.ticker, 'ticker');
    if (book.snapshot) {
      const fields = Object.entries(book.snapshot).filter((e): e is [string, string] => e[1] !== undefined);
      await r.xadd(config.POSITION_SNAPSHOT_STREAM, '*', 'symbol', symbol, ...fields.flat());
    }
  }
}

/** Redis's calls of the per-symbol reads since the last CONFIG RESETSTAT (INFO commandstats). */
async function symbolReadCalls(r: Redis): Promise<number> {
  const info = (await r.call('INFO', 'commandstats')) as string;
  return [...info.matchAll(/^cmdstat_(hmget|hget|hgetall):calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[2]), 0);
}

/** A write of one of the world's keys between two reads: a figure changed, a hash gone, one of another type. */
const laterWrite = fc.record({
  symbol: fc.constantFrom(...SYMBOLS),
  key: fc.constantFrom(
    keys.position,
    (s: string) => keys.positionLeg(s, 'LONG'),
    keys.p33StatePositions,
    keys.p33PositionSnapshot,
    keys.marketState,
    keys.marketStatePublished,
    keys.ticker,
  ),
  how: fc.constantFrom('figure', 'deleted', 'wrong type', 'expired'),
});

type LaterWrite = typeof laterWrite extends fc.Arbitrary<infer W> ? W : never;

describe('position book: a read through the key watch’s cache answers what the plain reads answer (issues #24, #72)', () => {
  const redis = usePrivateRedis();

  // One reading (readSymbols), two sources of replies: the key watch's cache (each reply kept until
  // its key is written) and reads sent. Cold, warm, and after any write, they must answer alike.
  it('answers for any mix of view rows and leg rows, the memory, P3.3 hashes, snapshots of both formats, market-state sigma and marks', async () => {
    await fc.assert(
      // And maybe a stray snapshot entry of an empty symbol, or of none, first in the stream.
      fc.asyncProperty(
        fc.array(perSymbol, { minLength: SYMBOLS.length, maxLength: SYMBOLS.length }),
        fc.constantFrom([], ['symbol', ''], ['position_notional_usd', '5']),
        listingDrawn,
        async (books, stray, listing) => {
          const r = redis.client;
          await r.flushall();
          await seedBooks(r, books, stray);
          if (listing.unreadable !== undefined) await r.hset(keys.positionsHeld, P33_UNREADABLE_FIELD, listing.unreadable);
          if (listing.refreshed !== undefined) await r.hset(keys.positionsHeld, P33_REFRESHED_FIELD, listing.refreshed);
          if (listing.indexWrongType) await r.multi().del(keys.p33PositionIndex).set(keys.p33PositionIndex, 'not a set').exec();
          const reader = r as unknown as RedisReader;
          const plain = await loadPositionBook(reader, config, { withEquity: true, now: NOW });
          // Without the key watch P3.3 is listed through its index: refused, it is marked now; read, a
          // mark no refresh after it cleared names it incomplete (memory.ts, fold.ts foldListingMark).
          const refreshedAfter =
            listing.refreshed !== undefined &&
            listing.refreshed !== 'junk' &&
            listing.unreadable !== undefined &&
            Number(listing.refreshed) > (listing.unreadable === 'garbage' ? 0 : Number(listing.unreadable));
          const p33Named = plain.book.unreadableListings.filter((u) => u.listing === 'p33');
          if (listing.indexWrongType) {
            expect(p33Named.map((u) => u.error)).toEqual([expect.stringContaining('WRONGTYPE')]);
            expect(plain.book.listingMark.unreadableAtMs).toBe(
              Math.max(NOW, Number(listing.unreadable === 'garbage' ? 0 : (listing.unreadable ?? 0))),
            );
          } else if (listing.unreadable !== undefined && !refreshedAfter)
            expect(p33Named.map((u) => u.error)).toEqual([expect.stringMatching(/^incomplete: unreadable at /)]);
          else expect(p33Named).toEqual([]);
          // With the positions it cannot price, and their quotes (the governor's read).
          const plainUnpriced = await loadPositionBook(reader, config, { now: NOW, withUnpriced: true });
          expect(plainUnpriced.book.positions).toEqual(plain.book.positions);
          // Every quote a direct read finds, index or not (the heat gate's decision marks).
          const plainAll = await loadPositionBook(reader, config, {
            withEquity: true,
            now: NOW,
            withUnpriced: true,
            allP33Quotes: true,
          });
          expect(plainAll.book.positions).toEqual(plain.book.positions);
          for (const [symbol, replies] of plainAll.book.quotes) {
            // A key of another type is no quote (readPriceQuotes rejects with it; its reads settled do not).
            const direct = books[SYMBOLS.indexOf(symbol as (typeof SYMBOLS)[number])]?.wrongType.length
              ? priceQuotesOf(await sendReadsSettled(reader, priceQuoteReads(symbol, config)))
              : await readPriceQuotes(reader, symbol, config);
            expect(priceQuotesOf(replies), symbol).toEqual(direct);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('through the key watch’s cache: the same book cold, warm (no per-symbol read sent) and after a write, delete, expiry or change of type of any key', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(perSymbol, { minLength: SYMBOLS.length, maxLength: SYMBOLS.length }),
        fc.constantFrom([], ['symbol', ''], ['position_notional_usd', '5']),
        laterWrite,
        async (books, stray, write) => {
          await redis.client.flushall();
          await seedBooks(redis.client, books, stray);
          await throughTheCache(write);
        },
      ),
      { numRuns: 100 },
    );
  });

  /**
   * The world as seeded, read through a live key watch: without its cache, through it cold, warm (no
   * per-symbol read sent) and after `write` (seen by the barrier), for every gate's read.
   */
  async function throughTheCache(write: LaterWrite) {
    const r = redis.client;
    const watch = await startP33KeyWatch(redis.url, r, config, () => NOW);
    try {
      // The governor's read and the heat gate's widest: between them every read of bookReads.
      const reads = [
        { now: NOW, withUnpriced: true, withMarketSigma: false },
        { withEquity: true, now: NOW, withUnpriced: true, allP33Quotes: true },
      ];
      const expectSame = async (warm: boolean) => {
        for (const options of reads) {
          const uncached = await loadPositionBook(withoutCache(watch.reader), config, options);
          await r.config('RESETSTAT');
          const cached = await loadPositionBook(watch.reader, config, options);
          if (warm) expect(await symbolReadCalls(r)).toBe(0);
          expect(cached, JSON.stringify(options)).toEqual(uncached);
        }
      };
      await expectSame(false);
      await expectSame(true);
      const key = write.key(write.symbol);
      if (write.how === 'deleted') await r.del(key);
      else if (write.how === 'expired') {
        // Expired, not deleted (a past time deletes): the read that finds it gone publishes `expired`.
        await r.pexpire(key, 1);
        await waitFor(async () => (await r.exists(key)) === 0 || undefined, { what: `${key} expired` });
      } else if (write.how === 'wrong type') await r.multi().del(key).rpush(key, 'not a hash').exec();
      else
        await r
          .multi()
          .del(key)
          .hset(key, {
            position_amt: '3',
            mark_price: '7',
            ts_epoch: String(NOW / 1000),
            sigma: '0.3',
            position_notional_usd: '21',
            updated_at: String(NOW),
            timestamp: String(NOW),
            markPrice: '7',
          })
          .exec();
      await expectSame(false);
    } finally {
      await watch.stop();
    }
  }

  // An applied id says which snapshots the view holds: unread, no snapshot could be placed, so the
  // whole read fails (the gate retries it) rather than one symbol.
  it('an applied id of another type fails the read on both paths alike', async () => {
    const r = redis.client;
    await r.flushall();
    await r.xgroup('CREATE', config.POSITION_SNAPSHOT_STREAM, config.POSITION_SNAPSHOT_GROUP, '$', 'MKSTREAM');
    await r.xadd(config.POSITION_SNAPSHOT_STREAM, '*', 'symbol', 'AUSDT', 'position_notional_usd', '100');
    await r.rpush(keys.positionAppliedId('AUSDT'), 'not a string');
    const reader = r as unknown as RedisReader;
    await expect(loadPositionBook(reader, config, { now: NOW })).rejects.toThrow(/WRONGTYPE/);
    await expect(loadPositionBook(withoutKeyWatch(reader), config, { now: NOW })).rejects.toThrow(/WRONGTYPE/);
  });
});

/**
 * `reader` answering keysToRead as the P3.3 key watch would after reading every key under P3.3's
 * prefixes at `at` (runtime/host/key-watch.ts: each key read and judged by book.ts p33KeyWatch).
 */
async function watchedReader(reader: RedisReader, r: RedisReader, at: number): Promise<RedisReader> {
  const watch = p33KeyWatch(config);
  const known: string[] = [];
  for (const prefix of watch.prefixes) {
    let cursor = '0';
    do {
      const [next, found] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      known.push(...found);
      cursor = next;
    } while (cursor !== '0');
  }
  const replies = await Promise.all(known.map((key) => sendRead(r, watch.read(key)).catch((error: unknown) => error)));
  const keysToRead = known.filter((key, i) => watch.judge(key, replies[i], at) === 'read');
  return new Proxy(reader, {
    get(target, property, receiver) {
      if (property === 'keysToRead') return (name: string) => Promise.resolve(name === P33_KEY_WATCH ? keysToRead : null);
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

/**
 * Issues #62 item 1 and #69 item 2: the book reads P3.3 only for the symbols the key watch names
 * (hashes that say anything but a sound flat figure, book.ts p33SaysFlat), so a flat universe costs
 * no read. The oracle: for any mix of figures (the world above: garbage, stamps ahead, keys of
 * another type, hashes unlisted), the book read through the key watch decides exactly as the book
 * read through every P3.3 hash, for the governor and the heat gate, on both paths, at the clock the
 * hashes were judged at and later.
 */
describe('position book: reading only the watched symbols decides as reading every P3.3 hash (issues #62, #69)', () => {
  const redis = usePrivateRedis();
  const commits = usePrivateCommitter(redis);

  /** What the gates decide on: the governor's positions for the caps, the heat gate's inputs (quotes where both read them). */
  async function decidedOn(reader: RedisReader, now: number) {
    const governor = await bookPositionSource.load(reader, now, config);
    const { quotes, symbols, positionMarks, refused, untrusted, ...heat } = await loadHeatInputs(reader, config, now, true);
    // In the order the listings name symbols (a set's, a sorted set's): an order nothing decides by.
    const sorted = <T>(list: readonly T[]) => list.map((x) => JSON.stringify(x)).sort();
    const { book } = await loadPositionBook(reader, config, { now, withUnpriced: true });
    return {
      // asOfMs is the newest stamp of any of a symbol's figures, a flat one's too: carried, never decided by.
      governor: governor.map(({ asOfMs: _stamp, ...position }) => position),
      unreadable: governor.unreadableListings,
      heat: { ...heat, refused: sorted(refused ?? []), untrusted: sorted(untrusted ?? []) },
      symbols,
      positionMarks,
      quotes,
      listing: book.p33Listing,
    };
  }

  it('the same positions, sizes, refusals and untrusted figures for any mix of producers’ words', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(perSymbol, { minLength: SYMBOLS.length, maxLength: SYMBOLS.length }),
        fc.constantFrom([], ['symbol', ''], ['position_notional_usd', '5']),
        fc.constantFrom(0, 4_000, 14_000),
        async (books, stray, later) => {
          const r = redis.client;
          await r.flushall();
          await seedBooks(r, books, stray);
          // The index job finds every hash through P3.3's allowlist: then both reads list the same hashes.
          expect(await refreshPositionIndex(r, commits.committer, NOW, { POSITION_P33_SYMBOLS: SYMBOLS.join(',') })).toBe('committed');
          for (const reader of [r as unknown as RedisReader, withoutKeyWatch(r as unknown as RedisReader)]) {
            const held = await decidedOn(await watchedReader(reader, r as unknown as RedisReader, NOW), NOW + later);
            expect(held.listing).toBe('watched');
            const all = await decidedOn(reader, NOW + later);
            expect(all.listing).toBe('all');
            expect(held.governor).toEqual(all.governor);
            expect(held.unreadable).toEqual(all.unreadable);
            expect(held.heat).toEqual(all.heat);
            expect(held.symbols).toEqual(all.symbols);
            expect(held.positionMarks).toEqual(all.positionMarks);
            // A symbol outside the book has its quotes read by the heat gate itself (heat-gate/index.ts symbolQuotes).
            for (const [symbol, replies] of held.quotes ?? []) expect(replies, symbol).toEqual(all.quotes?.get(symbol));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
