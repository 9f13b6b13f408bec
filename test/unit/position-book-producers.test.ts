import { describe, expect, it } from 'vitest';
import { loadPositionBook, readP33Position, type PositionBookConfig } from '../../handlers/positions/book.js';
import { freshestPrice, readMarkPrice, readPriceQuotes } from '../../handlers/positions/prices.js';
import { positionSnapshot } from '../../handlers/position-snapshot.js';
import { positionIndex } from '../../handlers/positions/index-job.js';
import { keys, streams } from '../../schemas/keys.js';
import { positionSnapshotSchema, snapshotNotional } from '../../schemas/position-snapshot.js';
import { FakeRedisReader, type FakeRedisData } from '../support/fake-redis-reader.js';
import { runHandler, withoutJobDone } from '../support/fake-ctx.js';
import {
  balanceTrackerSnapshot,
  marketStatePublished,
  p33NewestHash,
  p33SeedHash,
  tickerHash,
  universeJson,
} from '../support/book-producers.js';

const NOW = 1_800_000_000_000;
const NOW_SEC = NOW / 1000;
const config: PositionBookConfig = {
  POSITION_SNAPSHOT_STREAM: streams.positionSnapshot,
  POSITION_SNAPSHOT_GROUP: 'position_snapshot',
  POSITION_BOOK_MAX_PENDING: 1000,
  POSITION_MAX_AGE_SEC: 120,
  PRICE_MAX_AGE_SEC: 30,
};

async function book(data: FakeRedisData, now = NOW) {
  return (await loadPositionBook(new FakeRedisReader(data), config, { now })).book;
}
const rows = (b: Awaited<ReturnType<typeof book>>) => b.positions.map((p) => [p.symbol, p.notionalUsd, p.sigma ?? null, p.origin]);

describe('position book: P3.3 in both layouts', () => {
  it('counts a position only under quantum:state:positions: (upstream newest), notional = position_amt × mark_price', async () => {
    const result = await book({
      hashes: { [keys.p33StatePositions('ETHUSDT')]: p33NewestHash('ETHUSDT', -2, 3000, NOW_SEC - 3) },
      sets: { [keys.p33PositionIndex]: ['ETHUSDT'] },
    });
    expect(rows(result)).toEqual([['ETHUSDT', -6000, null, 'p33']]);
  });

  it('counts a symbol both layouts report at the larger figure, whichever is newer (docs/governor.md "Figures")', async () => {
    const result = await book({
      hashes: {
        [keys.p33PositionSnapshot('BTCUSDT')]: p33SeedHash(0.5, 60000, NOW_SEC - 60),
        [keys.p33StatePositions('BTCUSDT')]: p33NewestHash('BTCUSDT', 0, 61000, NOW_SEC - 2),
        [keys.p33PositionSnapshot('SOLUSDT')]: p33SeedHash(10, 150, NOW_SEC - 2),
        [keys.p33StatePositions('SOLUSDT')]: p33NewestHash('SOLUSDT', 4, 150, NOW_SEC - 50),
      },
      sets: { [keys.p33PositionIndex]: ['BTCUSDT', 'SOLUSDT'] },
    });
    // BTCUSDT: a newer FLAT removes nothing the other layout still reports; SOLUSDT: the seed layout's is the larger.
    expect(rows(result)).toEqual([
      ['BTCUSDT', 30000, null, 'p33'],
      ['SOLUSDT', 1500, null, 'p33'],
    ]);
  });

  it('a flat hash (side NONE or FLAT) is no position', async () => {
    const result = await book({
      hashes: {
        [keys.p33PositionSnapshot('BNBUSDT')]: p33SeedHash(0, 690, NOW_SEC),
        [keys.p33StatePositions('ADAUSDT')]: p33NewestHash('ADAUSDT', 0, 0.9, NOW_SEC),
      },
      sets: { [keys.p33PositionIndex]: ['BNBUSDT', 'ADAUSDT'] },
    });
    expect(result.positions).toEqual([]);
  });

  it('reads the layouts POSITION_P33_PREFIXES names, and only those', async () => {
    const data: FakeRedisData = {
      hashes: { [keys.p33StatePositions('ETHUSDT')]: p33NewestHash('ETHUSDT', 1, 3000, NOW_SEC) },
      sets: { [keys.p33PositionIndex]: ['ETHUSDT'] },
    };
    const seedOnly = await loadPositionBook(
      new FakeRedisReader(data),
      { ...config, POSITION_P33_PREFIXES: ['quantum:position:snapshot:'] },
      { now: NOW },
    );
    expect(seedOnly.book.positions).toEqual([]);
    expect(await readP33Position(new FakeRedisReader(data), 'ETHUSDT', undefined, { config, now: NOW })).toMatchObject({
      notionalUsd: 3000,
    });
  });
});

describe('position book: the balance tracker’s snapshots', () => {
  it('parses its entry (no notional, no sigma): notional = position_qty × mark_price, signed by side', () => {
    const long = positionSnapshotSchema.parse(balanceTrackerSnapshot('ETHUSDT', 2, 3000, NOW_SEC));
    const short = positionSnapshotSchema.parse(balanceTrackerSnapshot('BTCUSDT', -0.01, 60000, NOW_SEC));
    expect([snapshotNotional(long), snapshotNotional(short)]).toEqual([6000, -600]);
  });

  it('still refuses an entry with no figure at all, and a figure that is no number', () => {
    expect(positionSnapshotSchema.safeParse({ symbol: 'ETHUSDT', side: 'LONG' }).success).toBe(false);
    expect(positionSnapshotSchema.safeParse({ ...balanceTrackerSnapshot('ETHUSDT', 2, 3000, NOW_SEC), mark_price: 'nan' }).success).toBe(
      false,
    );
  });

  it('position-snapshot materialises it with its computed notional and a TTL of POSITION_MAX_AGE_SEC', async () => {
    const run = await runHandler(positionSnapshot, balanceTrackerSnapshot('BTCUSDT', -0.01, 60000, NOW_SEC));
    expect(run.recorder.effects[0]).toMatchObject({
      op: 'putHash',
      key: keys.position('BTCUSDT'),
      ttlSec: 120,
      fields: { position_notional_usd: '-600', qty: '0.01', mark_price: '60000', side: 'SHORT' },
    });
  });

  it('folds in unapplied balance-tracker entries; sigma from quantum:marketstate (the market state publisher)', async () => {
    const result = await book({
      streams: {
        [streams.positionSnapshot]: [{ id: `${NOW - 1000}-0`, fields: balanceTrackerSnapshot('ETHUSDT', 2, 3000, NOW_SEC - 1) }],
      },
      hashes: { [keys.marketStatePublished('ETHUSDT')]: marketStatePublished(0.02, NOW_SEC - 30) },
    });
    expect(rows(result)).toEqual([['ETHUSDT', 6000, 0.02, 'stream']]);
    expect(result.untrusted).toEqual([]);
  });
});

describe('position book: sigma', () => {
  it('the figure’s own, else the larger of quantum:marketstate and quantum:state:market (two producers of one figure)', async () => {
    const result = await book({
      streams: {
        [streams.positionSnapshot]: [
          { id: `${NOW - 3}-0`, fields: { symbol: 'AAAUSDT', position_notional_usd: '100', sigma: '0.5' } },
          { id: `${NOW - 2}-0`, fields: { symbol: 'BBBUSDT', position_notional_usd: '100' } },
          { id: `${NOW - 1}-0`, fields: { symbol: 'CCCUSDT', position_notional_usd: '100' } },
        ],
      },
      hashes: {
        [keys.marketStatePublished('AAAUSDT')]: marketStatePublished(0.1, NOW_SEC),
        [keys.marketStatePublished('BBBUSDT')]: marketStatePublished(0.2, NOW_SEC),
        [keys.marketState('BBBUSDT')]: { sigma: '0.9' },
        [keys.marketState('CCCUSDT')]: { sigma: '0.3' },
      },
    });
    expect(result.positions.map((p) => [p.symbol, p.sigma])).toEqual([
      ['AAAUSDT', 0.5],
      ['BBBUSDT', 0.9],
      ['CCCUSDT', 0.3],
    ]);
  });
});

describe('position book: a position no longer reported leaves the book after POSITION_MAX_AGE_SEC', () => {
  const data: FakeRedisData = {
    hashes: {
      [keys.position('ETHUSDT')]: { position_notional_usd: '6000', updated_at: String(NOW - 100_000) },
      [keys.p33StatePositions('BTCUSDT')]: p33NewestHash('BTCUSDT', 0.1, 60000, NOW_SEC - 100),
    },
    sets: { [keys.activePositions]: ['ETHUSDT'], [keys.p33PositionIndex]: ['BTCUSDT'] },
    streams: { [streams.positionSnapshot]: [{ id: `${NOW - 100_000}-0`, fields: balanceTrackerSnapshot('SOLUSDT', 1, 150, 0) }] },
  };

  it('all three kept within the bound (100 s old < 120 s)', async () => {
    expect((await book(data)).positions.map((p) => p.symbol)).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
  });

  it('past it the balance tracker’s unapplied entry is gone; the view row leaves by its own TTL (set when applied), the P3.3 hash by its own', async () => {
    expect((await book(data, NOW + 21_000)).positions.map((p) => p.symbol)).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(await readP33Position(new FakeRedisReader(data), 'BTCUSDT', undefined, { config, now: NOW + 21_000 })).toMatchObject({
      symbol: 'BTCUSDT',
      origin: 'p33',
    });
  });
});

describe('prices: the freshest of market state, P3.3 (either layout, flat too), ticker', () => {
  const redis = (hashes: FakeRedisData['hashes']) => new FakeRedisReader({ hashes });

  it('prices a flat BNBUSDT from P3.3’s mark', async () => {
    const quote = await readMarkPrice(
      redis({ [keys.p33PositionSnapshot('BNBUSDT')]: p33SeedHash(0, 690, NOW_SEC - 4) }),
      'BNBUSDT',
      NOW,
      config,
    );
    expect(quote).toMatchObject({ source: 'p33', price: 690 });
  });

  it('prices from the ticker alone (markPrice, timestamp in ms)', async () => {
    const quote = await readMarkPrice(redis({ [keys.ticker('XRPUSDT')]: tickerHash('XRPUSDT', 0.61, NOW - 2000) }), 'XRPUSDT', NOW, config);
    expect(quote).toMatchObject({ source: 'ticker', price: 0.61 });
  });

  it('takes the freshest of several', async () => {
    const quote = await readMarkPrice(
      redis({
        [keys.p33StatePositions('ETHUSDT')]: p33NewestHash('ETHUSDT', 0, 3000, NOW_SEC - 5),
        [keys.ticker('ETHUSDT')]: tickerHash('ETHUSDT', 3010, NOW - 1000),
        [keys.marketState('ETHUSDT')]: { mark_price: '2500' },
      }),
      'ETHUSDT',
      NOW,
      config,
    );
    expect(quote).toMatchObject({ source: 'ticker', price: 3010 });
  });

  it('refuses stale quotes (P3.3 40 s old, ticker 31 s old): no price', async () => {
    const quotes = await readPriceQuotes(
      redis({
        [keys.p33PositionSnapshot('BNBUSDT')]: p33SeedHash(0, 690, NOW_SEC - 40),
        [keys.ticker('BNBUSDT')]: tickerHash('BNBUSDT', 691, NOW - 31_000),
      }),
      'BNBUSDT',
      config,
    );
    expect(quotes).toHaveLength(2);
    expect(freshestPrice(quotes, NOW, { maxAgeSec: 30 })).toBeUndefined();
  });

  it('uses a market state of no time only when no timed quote is fresh', async () => {
    const quotes = await readPriceQuotes(
      redis({ [keys.marketState('ETHUSDT')]: { mark_price: '2500' }, [keys.ticker('ETHUSDT')]: tickerHash('ETHUSDT', 3010, NOW - 60_000) }),
      'ETHUSDT',
    );
    expect(freshestPrice(quotes, NOW, { maxAgeSec: 30 })).toMatchObject({ source: 'market_state', price: 2500 });
  });
});

describe('position-index: P3.3’s hashes found from its own symbol lists, no full SCAN', () => {
  it('indexes the symbols of the env allowlist and the universe that have a hash in either layout', async () => {
    const run = await runHandler(
      positionIndex,
      {},
      {
        env: { POSITION_P33_SYMBOLS: 'BTCUSDT,ETHUSDT', POSITION_INDEX_SCAN_STEPS: '0' },
        redis: {
          strings: { [keys.universeActive]: universeJson(['SOLUSDT', 'BNBUSDT', 'DOGEUSDT'], NOW_SEC) },
          hashes: {
            [keys.p33PositionSnapshot('BTCUSDT')]: p33SeedHash(0, 60000, NOW_SEC),
            [keys.p33StatePositions('SOLUSDT')]: p33NewestHash('SOLUSDT', 1, 150, NOW_SEC),
            [keys.p33StatePositions('BNBUSDT')]: p33NewestHash('BNBUSDT', 0, 690, NOW_SEC),
            // Not in any list and the sweep is off: not found.
            [keys.p33StatePositions('XRPUSDT')]: p33NewestHash('XRPUSDT', 1, 0.6, NOW_SEC),
          },
        },
      },
    );
    const added = withoutJobDone(run.recorder.effects).flatMap((e) => (e.op === 'addToSet' ? [e.member] : []));
    expect(added.sort()).toEqual(['BNBUSDT', 'BTCUSDT', 'SOLUSDT']);
    expect(run.metrics.get('quantum_position_index_candidates')).toBe(5);
  });

  it('the bounded sweep finds a symbol in no list, and keeps its cursor', async () => {
    const run = await runHandler(
      positionIndex,
      {},
      { redis: { hashes: { [keys.p33StatePositions('XRPUSDT')]: p33NewestHash('XRPUSDT', 1, 0.6, NOW_SEC) } } },
    );
    const effects = withoutJobDone(run.recorder.effects);
    expect(effects.flatMap((e) => (e.op === 'addToSet' ? [e.member] : []))).toEqual(['XRPUSDT']);
    expect(effects).toContainEqual({ op: 'setKey', key: keys.p33IndexScanCursor('quantum:state:positions:'), value: '0' });
  });
});
