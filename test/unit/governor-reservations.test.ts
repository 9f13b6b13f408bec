import { describe, expect, it } from 'vitest';
import { governorExitLocks } from '../../handlers/governor/exit-locks.js';
import { governor } from '../../handlers/governor/index.js';
import type { Position } from '../../handlers/governor/positions.js';
import {
  encodeReservation,
  nextVersion,
  outstanding,
  parseReservation,
  reservedExposure,
  type Reservation,
} from '../../handlers/governor/reservations.js';
import { keys, streams } from '../../schemas/keys.js';
import { runHandler } from '../support/fake-ctx.js';

const NOW = 1_800_000_000_000;

function reservation(over: Partial<Reservation> = {}): Reservation {
  return {
    planId: 'p1',
    symbol: 'NEWUSDT',
    notional: 150,
    slot: true,
    bookQty: undefined,
    bookNotional: 0,
    orderQty: 1.5,
    direction: 1,
    reservedAt: NOW - 1000,
    expiresAt: NOW + 119_000,
    ...over,
  };
}

const position = (symbol: string, qty: number, notionalUsd = qty * 100): Position => ({ symbol, qty, notionalUsd, markPrice: 100 });

describe('reservations', () => {
  it('round-trip through their sorted-set member; an unreadable member counts as nothing', () => {
    const r = reservation({ bookQty: 2, bookNotional: 200, slot: false });
    expect(parseReservation(encodeReservation(r), String(r.expiresAt))).toEqual(r);
    expect(parseReservation('not json', '1')).toBeUndefined();
    expect(parseReservation('{"plan_id":"x"}', '1')).toBeUndefined();
    expect(parseReservation('null', '1')).toBeUndefined();
  });

  it('a member written before orders were recorded still parses, and counts whole until it expires', () => {
    const old = '{"plan_id":"o","symbol":"NEWUSDT","notional":150,"slot":true,"book_qty":null,"book_notional":0,"reserved_at":1}';
    const r = parseReservation(old, String(NOW + 1000))!;
    expect(r).toMatchObject({ planId: 'o', orderQty: undefined, direction: undefined, expiresAt: NOW + 1000 });
    expect(outstanding([r], [position('NEWUSDT', 1.5)], NOW).map((o) => o.notional)).toEqual([150]);
    expect(outstanding([r], [position('NEWUSDT', 1.5)], NOW + 1000)).toEqual([]);
  });

  const left = (rs: Reservation[], book: Position[], now = NOW) =>
    Object.fromEntries(outstanding(rs, book, now).map((o) => [o.reservation.planId, o.remainingQty]));

  it('shrink by the quantity of their order the book shows in its direction, and go only when all of it shows', () => {
    const r = reservation({ orderQty: 1.5 });
    expect(left([r], [])).toEqual({ p1: 1.5 });
    expect(left([r], [position('NEWUSDT', 0.15)])).toEqual({ p1: 1.35 });
    expect(outstanding([r], [position('NEWUSDT', 0.15)], NOW)[0]!.notional).toBeCloseTo(135);
    expect(left([r], [position('NEWUSDT', 1.5)])).toEqual({});
    // A short grows the other way: a sell's fill is a more negative quantity.
    const sell = reservation({ direction: -1, orderQty: 2 });
    expect(left([sell], [position('NEWUSDT', -0.5)])).toEqual({ p1: 1.5 });
    expect(left([sell], [position('NEWUSDT', 0.5)])).toEqual({ p1: 2 });
  });

  it('an add on a held symbol is measured from the position at its permit; a close of that position consumes nothing', () => {
    const add = reservation({ slot: false, bookQty: 2, bookNotional: 200, orderQty: 1 });
    expect(left([add], [position('NEWUSDT', 2)])).toEqual({ p1: 1 });
    expect(left([add], [position('NEWUSDT', 2.5)])).toEqual({ p1: 0.5 });
    // Partly closed before the add fills: the add still counts whole, even once the position is gone.
    expect(left([add], [position('NEWUSDT', 1)])).toEqual({ p1: 1 });
    expect(left([add], [])).toEqual({ p1: 1 });
    // Closed to 1 and the add's fill to 2: the book shows nothing beyond the baseline (counted on the safe side).
    expect(left([add], [position('NEWUSDT', 2)])).toEqual({ p1: 1 });
    // A sell on a long: the long's close is no fill of the sell.
    const sell = reservation({ slot: false, bookQty: 2, bookNotional: 200, orderQty: 3, direction: -1 });
    expect(left([sell], [])).toEqual({ p1: 3 });
    expect(left([sell], [position('NEWUSDT', -1)])).toEqual({ p1: 2 });
  });

  it('several on one symbol share what shows, oldest first, each at most its own quantity', () => {
    const a = reservation({ planId: 'a', orderQty: 1, reservedAt: NOW - 3000 });
    const b = reservation({ planId: 'b', orderQty: 1, reservedAt: NOW - 2000 });
    // b filled first: a takes it, one order's quantity stays counted either way.
    expect(left([a, b], [position('NEWUSDT', 1)])).toEqual({ b: 1 });
    expect(left([a, b], [position('NEWUSDT', 1.5)])).toEqual({ b: 0.5 });
    expect(left([a, b], [position('NEWUSDT', 2)])).toEqual({});
    // c permitted after a's half showed: measured from 0.5, so the half is not counted twice.
    const c = reservation({ planId: 'c', orderQty: 1, bookQty: 0.5, bookNotional: 50, slot: false, reservedAt: NOW - 1000 });
    expect(left([a, c], [position('NEWUSDT', 0.5)])).toEqual({ a: 0.5, c: 1 });
    expect(left([a, c], [position('NEWUSDT', 1.5)])).toEqual({ c: 0.5 });
  });

  it('a fill that shows after its reservation expired is taken by that one, never by a younger order', () => {
    const old = reservation({ planId: 'old', orderQty: 1, reservedAt: NOW - 130_000, expiresAt: NOW - 10_000 });
    const young = reservation({ planId: 'young', orderQty: 1, reservedAt: NOW - 20_000 });
    expect(left([old, young], [position('NEWUSDT', 1)])).toEqual({ young: 1 });
    expect(left([old, young], [position('NEWUSDT', 2)])).toEqual({});
  });

  it('without a quantity in the book nothing can be measured: counted whole', () => {
    const r = reservation({ orderQty: 1 });
    expect(left([r], [{ symbol: 'NEWUSDT', qty: undefined, notionalUsd: 350, markPrice: undefined }])).toEqual({ p1: 1 });
  });

  it('count outstanding ones only: not expired, not shown; slots are distinct symbols with no open position', () => {
    const all = [
      reservation({ planId: 'a', symbol: 'A' }),
      reservation({ planId: 'a2', symbol: 'A', reservedAt: NOW - 5000 }),
      reservation({ planId: 'b', symbol: 'B', expiresAt: NOW }),
      reservation({ planId: 'c', symbol: 'C' }),
      reservation({ planId: 'd', symbol: 'D', slot: false, bookQty: 1, bookNotional: 100 }),
      reservation({ planId: 'e', symbol: 'E', slot: false, bookQty: 1, bookNotional: 100 }),
    ];
    const held = reservedExposure(all, [position('C', 1.5), position('D', 1)], NOW);
    // b expired; c shown (C appeared); a, a2, d and e outstanding; slots: A, and E, whose position
    // closed before its add showed (D is open in the book).
    expect(held).toEqual({ count: 4, positions: 2, notional: 600, oldestAt: NOW - 5000 });
    expect(reservedExposure([], [], NOW)).toEqual({ count: 0, positions: 0, notional: 0, oldestAt: undefined });
  });

  it('bump the cap version from absent or a number', () => {
    expect(nextVersion(null)).toBe('1');
    expect(nextVersion('41')).toBe('42');
    expect(nextVersion('garbage')).toBe('1');
  });
});

const MARKET = (symbol: string) => ({ [keys.marketState(symbol)]: { mark_price: '100' } });
const openFields = (planId: string, symbol: string) => ({
  plan_id: planId,
  symbol,
  action: 'OPEN_LONG',
  decision: 'EXECUTE',
  side: 'BUY',
  qty: '1.5',
  price: '100',
});

describe('the governor and its reservations (fake ctx)', () => {
  it('a testnet open permit reserves, guarded on the cap version, and its event shows book and reservations', async () => {
    const run = await runHandler(governor, openFields('o1', 'NEWUSDT'), { now: NOW, redis: { hashes: MARKET('NEWUSDT') } });
    expect(run.recorder.guards).toContainEqual({ kind: 'absent', key: keys.governorCapsVersion });
    expect(run.recorder.effects).toContainEqual(expect.objectContaining({ op: 'setKey', key: keys.governorCapsVersion, value: '1' }));
    const added = run.recorder.effects.find((e) => e.op === 'addToSortedSet' && e.key === keys.governorReservations);
    expect(added).toMatchObject({ score: NOW + 120_000, ttlSec: 240 });
    expect(JSON.parse((added as { member: string }).member)).toMatchObject({
      plan_id: 'o1',
      symbol: 'NEWUSDT',
      notional: 150,
      slot: true,
      order_qty: 1.5,
      direction: 1,
    });
    expect(run.recorder.effects).toContainEqual({ op: 'trimSortedSet', key: keys.governorReservations, maxScore: NOW - 120_000 });
    expect(run.emitted(streams.governorEvents)[0]).toMatchObject({
      event: 'permit',
      open_positions: '0',
      total_notional: '0',
      reservations: '0',
      reserved_positions: '0',
      reserved_notional: '0',
    });
    expect(run.metrics.get('quantum_govern_reservations')).toBe(0);
  });

  it('an open is blocked while reservations fill the position cap, and counted again once they expire', async () => {
    const members = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [encodeReservation(reservation({ planId: `r${i}`, symbol: `R${i}USDT` })), NOW + 60_000]),
    );
    const redis = {
      hashes: MARKET('NEWUSDT'),
      sortedSets: { [keys.governorReservations]: members },
      strings: { [keys.governorCapsVersion]: '10' },
    };
    const blocked = await runHandler(governor, openFields('o2', 'NEWUSDT'), { now: NOW, redis });
    expect(blocked.emitted(streams.governorEvents)[0]).toMatchObject({
      event: 'block',
      reason: 'max_positions_reached',
      reserved_positions: '10',
      reserved_notional: '1500',
    });
    expect(blocked.metrics.get('quantum_govern_reservations')).toBe(10);
    expect(blocked.metrics.get('quantum_govern_reservation_oldest_age_seconds')).toBe(1);

    const later = await runHandler(governor, openFields('o3', 'NEWUSDT'), { now: NOW + 61_000, redis });
    expect(later.emitted(streams.governorEvents)[0]).toMatchObject({ event: 'permit', reservations: '0' });
    expect(later.recorder.guards).toContainEqual({ kind: 'equals', key: keys.governorCapsVersion, value: '10' });
  });

  it('production: a close is blocked while another plan holds the symbol’s exit lock; its own permit takes the lock', async () => {
    const redis = {
      hashes: {
        ...MARKET('ETHUSDT'),
        [keys.p33PositionSnapshot('ETHUSDT')]: { position_amt: '2', mark_price: '100', ts_epoch: String(NOW / 1000) },
      },
    };
    const close = { plan_id: 'c2', symbol: 'ETHUSDT', action: 'FULL_CLOSE_PROPOSED', decision: 'EXECUTE' };
    const env = { APPLY_MODE: 'production' };
    const busy = await runHandler(governor, close, {
      now: NOW,
      env,
      redis: { ...redis, strings: { [keys.governorExitLock('ETHUSDT')]: 'c1' } },
    });
    expect(busy.emitted(streams.governorEvents)[0]).toMatchObject({ event: 'block', reason: 'exit_lock_busy_double_close_prevention' });
    const free = await runHandler(governor, close, { now: NOW, env, redis });
    expect(free.recorder.guards).toContainEqual({ kind: 'absent', key: keys.governorExitLock('ETHUSDT') });
    expect(free.recorder.effects).toContainEqual(
      expect.objectContaining({ op: 'setKey', key: keys.governorExitLock('ETHUSDT'), value: 'c2', ttlSec: 120 }),
    );
  });
});

describe('governor-exit-locks', () => {
  const result = (planId: string, executed: string) => ({ plan_id: planId, symbol: 'ETHUSDT', decision: 'EXECUTE', executed });
  const locked = { strings: { [keys.governorExitLock('ETHUSDT')]: 'c1' } };

  it('releases the lock at the holder’s fill, guarded on it still being the holder’s', async () => {
    const run = await runHandler(governorExitLocks, result('c1', 'True'), { redis: locked });
    expect(run.recorder.guards).toEqual([{ kind: 'equals', key: keys.governorExitLock('ETHUSDT'), value: 'c1' }]);
    expect(run.recorder.effects).toEqual([{ op: 'deleteKey', key: keys.governorExitLock('ETHUSDT') }]);
    expect(run.metrics.get('quantum_govern_exit_lock_released_total')).toBe(1);
  });

  it.each([
    ['not_executed', result('c1', 'False')],
    ['not_holder', result('c9', 'True')],
    ['unreadable', { executed: 'True' }],
  ])('acknowledges a result that releases nothing, counted as %s', async (reason, fields) => {
    const run = await runHandler(governorExitLocks, fields, { redis: locked });
    expect(run.recorder.effects).toEqual([]);
    expect(run.metrics.get('quantum_govern_exit_lock_result_ignored_total', { reason })).toBe(1);
  });
});
