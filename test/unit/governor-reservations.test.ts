import { describe, expect, it } from 'vitest';
import { governorExitLocks } from '../../handlers/governor/exit-locks.js';
import { governor } from '../../handlers/governor/index.js';
import type { Position } from '../../handlers/governor/positions.js';
import {
  encodeReservation,
  nextVersion,
  parseReservation,
  reservedExposure,
  shownInBook,
  type Reservation,
} from '../../handlers/governor/reservations.js';
import { keys, streams } from '../../schemas/keys.js';
import { fakeCtx, runHandler } from '../support/fake-ctx.js';

const NOW = 1_800_000_000_000;

function reservation(over: Partial<Reservation> = {}): Reservation {
  return {
    planId: 'p1',
    symbol: 'NEWUSDT',
    notional: 150,
    slot: true,
    bookQty: undefined,
    bookNotional: 0,
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

  it('show in the book when a new symbol’s position appears, or an existing one’s quantity moves', () => {
    expect(shownInBook(reservation(), [])).toBe(false);
    expect(shownInBook(reservation(), [position('NEWUSDT', 1.5)])).toBe(true);
    expect(shownInBook(reservation(), [position('NEWUSDT', 0.00001)])).toBe(false);
    const onHeld = reservation({ slot: false, bookQty: 2, bookNotional: 200 });
    expect(shownInBook(onHeld, [position('NEWUSDT', 2)])).toBe(false);
    expect(shownInBook(onHeld, [position('NEWUSDT', 3.5)])).toBe(true);
    // Without a quantity on either side, the notional decides.
    const noQty = reservation({ slot: false, bookQty: undefined, bookNotional: 200 });
    expect(shownInBook(noQty, [{ symbol: 'NEWUSDT', qty: undefined, notionalUsd: 200, markPrice: undefined }])).toBe(false);
    expect(shownInBook(noQty, [{ symbol: 'NEWUSDT', qty: undefined, notionalUsd: 350, markPrice: undefined }])).toBe(true);
  });

  it('count outstanding ones only: not expired, not shown; slots are distinct symbols with no open position', () => {
    const all = [
      reservation({ planId: 'a', symbol: 'A' }),
      reservation({ planId: 'a2', symbol: 'A', reservedAt: NOW - 5000 }),
      reservation({ planId: 'b', symbol: 'B', expiresAt: NOW }),
      reservation({ planId: 'c', symbol: 'C' }),
      reservation({ planId: 'd', symbol: 'D', slot: false, bookQty: 1, bookNotional: 100 }),
    ];
    const held = reservedExposure(all, [position('C', 1.5), position('D', 1)], NOW);
    // b expired; c shown (C appeared); a, a2 and d outstanding; slots: A only (D is open in the book).
    expect(held).toEqual({ count: 3, positions: 1, notional: 450, oldestAt: NOW - 5000 });
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
    expect(added).toMatchObject({ score: NOW + 120_000, ttlSec: 120 });
    expect(JSON.parse((added as { member: string }).member)).toMatchObject({ plan_id: 'o1', symbol: 'NEWUSDT', notional: 150, slot: true });
    expect(run.recorder.effects).toContainEqual({ op: 'trimSortedSet', key: keys.governorReservations, maxScore: NOW });
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

  it('a batch decides in order: the second of two opens sees the first one’s reservation', async () => {
    const redis = { hashes: { ...MARKET('AUSDT'), ...MARKET('BUSDT') } };
    const env = { GOV_MAX_OPEN_POSITIONS: '1' };
    const first = await fakeCtx(governor, { now: NOW, redis, env, meta: { raw: openFields('a', 'AUSDT') } });
    const second = await fakeCtx(governor, { now: NOW, redis, env, meta: { raw: openFields('b', 'BUSDT') }, state: first.ctx.state });
    type Ctx = Parameters<typeof governor.handle>[1];
    // Started in batch order, run concurrently, as the runtime does.
    await Promise.all([
      governor.handle(governor.input.parse(openFields('a', 'AUSDT')), first.ctx as Ctx),
      governor.handle(governor.input.parse(openFields('b', 'BUSDT')), second.ctx as Ctx),
    ]);
    expect(first.emitted(streams.governorEvents)[0]).toMatchObject({ event: 'permit' });
    expect(second.emitted(streams.governorEvents)[0]).toMatchObject({
      event: 'block',
      reason: 'max_positions_reached',
      reserved_positions: '1',
    });
  });

  it('the second permit of a batch guards on the cap version the first one sets (a chained guard)', async () => {
    const redis = { hashes: { ...MARKET('AUSDT'), ...MARKET('BUSDT') }, strings: { [keys.governorCapsVersion]: '7' } };
    const first = await fakeCtx(governor, { now: NOW, redis, meta: { raw: openFields('a', 'AUSDT') } });
    const second = await fakeCtx(governor, { now: NOW, redis, meta: { raw: openFields('b', 'BUSDT') }, state: first.ctx.state });
    type Ctx = Parameters<typeof governor.handle>[1];
    await Promise.all([
      governor.handle(governor.input.parse(openFields('a', 'AUSDT')), first.ctx as Ctx),
      governor.handle(governor.input.parse(openFields('b', 'BUSDT')), second.ctx as Ctx),
    ]);
    expect(first.recorder.guards).toContainEqual({ kind: 'equals', key: keys.governorCapsVersion, value: '7' });
    expect(second.recorder.guards).toContainEqual({ kind: 'equals', key: keys.governorCapsVersion, value: '8' });
    expect(second.emitted(streams.governorEvents)[0]).toMatchObject({ event: 'permit', reservations: '1', reserved_notional: '150' });
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
