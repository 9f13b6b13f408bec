import { describe, expect, it } from 'vitest';
import { loadPositionBook, type PositionBookConfig } from '../../handlers/positions/book.js';
import { keys, streams } from '../../schemas/keys.js';
import { FakeRedisReader, type FakeRedisData } from '../support/fake-redis-reader.js';

const config: PositionBookConfig = {
  POSITION_SNAPSHOT_STREAM: streams.positionSnapshot,
  POSITION_SNAPSHOT_GROUP: 'position_snapshot',
  POSITION_BOOK_MAX_PENDING: 1000,
};
const T = 1_795_000_000_000;

async function book(data: FakeRedisData) {
  return (await loadPositionBook(new FakeRedisReader(data), config, { now: T })).book;
}

const view = (symbol: string, notional: number, atMs: number, sigma = '0.2') => ({
  symbol,
  position_notional_usd: String(notional),
  sigma,
  updated_at: String(atMs),
  source_id: `${atMs}-0`,
});
const p33 = (amt: string, mark: string, tsSec: number) => ({
  position_amt: amt,
  // As P3.3 writes it (position_state_brain/main.py:513): by the amount's sign, FLAT when zero.
  side: Number(amt) > 0 ? 'LONG' : Number(amt) < 0 ? 'SHORT' : 'FLAT',
  entry_price: mark,
  mark_price: mark,
  unrealized_pnl: '0',
  leverage: '3',
  ts_epoch: String(tsSec),
});

describe('position book: one merge of our view, unapplied snapshots and P3.3 hashes', () => {
  it('takes a P3.3 hash only it knows, notional = position_amt × mark_price, sigma from the market state', async () => {
    const result = await book({
      hashes: { [keys.p33PositionSnapshot('BTCUSDT')]: p33('-0.5', '60000', T / 1000), [keys.marketState('BTCUSDT')]: { sigma: '0.4' } },
      sets: { [keys.p33PositionIndex]: ['BTCUSDT'] },
    });
    expect(result.positions).toMatchObject([{ symbol: 'BTCUSDT', notionalUsd: -30000, sigma: 0.4, origin: 'p33' }]);
  });

  it('counts each symbol at its largest fresh figure, newer or older; a figure stamped ahead is no figure', async () => {
    const result = await book({
      hashes: {
        [keys.position('ETHUSDT')]: view('ETHUSDT', 1000, T),
        [keys.p33PositionSnapshot('ETHUSDT')]: p33('2', '3000', T / 1000 + 5),
        [keys.position('SOLUSDT')]: view('SOLUSDT', 700, T - 10_000),
        [keys.p33PositionSnapshot('SOLUSDT')]: p33('1', '100', T / 1000),
        [keys.position('ADAUSDT')]: view('ADAUSDT', 300, T - 1000),
        [keys.p33PositionSnapshot('ADAUSDT')]: p33('0', '1', T / 1000 + 600),
      },
      sets: { [keys.activePositions]: ['ETHUSDT', 'SOLUSDT', 'ADAUSDT'], [keys.p33PositionIndex]: ['ETHUSDT', 'SOLUSDT', 'ADAUSDT'] },
    });
    // ETHUSDT: P3.3's 6,000, with the view's sigma; SOLUSDT: the view's older 700 beats P3.3's newer 100.
    // ADAUSDT: P3.3's flat hash stamped 10 min ahead is refused (the symbol is untrusted), the view's 300 stands.
    expect(result.positions.map((p) => [p.symbol, p.notionalUsd, p.sigma, p.origin])).toEqual([
      ['ADAUSDT', 300, 0.2, 'view'],
      ['ETHUSDT', 6000, 0.2, 'p33'],
      ['SOLUSDT', 700, 0.2, 'view'],
    ]);
    expect(result.refused).toEqual([
      { symbol: 'ADAUSDT', source: 'p33', reason: 'future', key: keys.p33PositionSnapshot('ADAUSDT'), aheadMs: 600_000 },
    ]);
    expect(result.untrusted).toEqual([{ symbol: 'ADAUSDT', field: 'stamped_ahead', value: keys.p33PositionSnapshot('ADAUSDT') }]);
  });

  it('folds in snapshot entries the view has not applied, and a zero closes the position', async () => {
    const result = await book({
      hashes: { [keys.position('ETHUSDT')]: view('ETHUSDT', 1000, T), [keys.position('BTCUSDT')]: view('BTCUSDT', 2000, T) },
      sets: { [keys.activePositions]: ['ETHUSDT', 'BTCUSDT'] },
      strings: { [keys.positionAppliedId('ETHUSDT')]: `${T}-0`, [keys.positionAppliedId('BTCUSDT')]: `${T}-0` },
      streams: {
        [streams.positionSnapshot]: [
          { id: `${T - 5}-0`, fields: { symbol: 'ETHUSDT', position_notional_usd: '999999', sigma: '0.9' } },
          { id: `${T}-0`, fields: { symbol: 'BTCUSDT', position_notional_usd: '2000', sigma: '0.2' } },
          { id: `${T + 1}-0`, fields: { symbol: 'ETHUSDT', position_notional_usd: '50000', sigma: '0.15' } },
          { id: `${T + 2}-0`, fields: { symbol: 'BTCUSDT', position_notional_usd: '0' } },
          { id: `${T + 3}-0`, fields: { symbol: 'XRPUSDT', position_notional_usd: '300', volatility: '0.5' } },
        ],
      },
    });
    // ETHUSDT's older entry is already in the view; its newer one wins. BTCUSDT closed. XRPUSDT new.
    expect(result.positions.map((p) => [p.symbol, p.notionalUsd, p.sigma, p.origin])).toEqual([
      ['ETHUSDT', 50000, 0.15, 'stream'],
      ['XRPUSDT', 300, 0.5, 'stream'],
    ]);
    expect(result.streamRead).toBe('tail');
  });

  it('never counts a flat or expired P3.3 hash', async () => {
    const result = await book({
      hashes: { [keys.p33PositionSnapshot('ADAUSDT')]: p33('0', '1', T / 1000) },
      sets: { [keys.p33PositionIndex]: ['ADAUSDT', 'GONEUSDT'] },
    });
    expect(result.positions).toEqual([]);
  });
});

describe('position book: leftovers of an earlier quantum-gates under P3.3’s key name', () => {
  it('ignores a hash without ts_epoch, and prefers position_amt × mark_price over a stray position_notional_usd', async () => {
    const result = await book({
      hashes: {
        // Written by an earlier version of our position-snapshot handler, no TTL: not P3.3's.
        [keys.p33PositionSnapshot('OLDUSDT')]: {
          symbol: 'OLDUSDT',
          position_notional_usd: '90000',
          sigma: '0.3',
          updated_at: String(T),
          source_id: `${T}-0`,
        },
        // Rewritten by P3.3 since (HSET keeps our stray field): P3.3's own fields count.
        [keys.p33PositionSnapshot('ETHUSDT')]: { ...p33('1', '3000', T / 1000), position_notional_usd: '90000' },
      },
      sets: { [keys.p33PositionIndex]: ['OLDUSDT', 'ETHUSDT'] },
    });
    expect(result.positions.map((p) => [p.symbol, p.notionalUsd])).toEqual([['ETHUSDT', 3000]]);
  });
});
