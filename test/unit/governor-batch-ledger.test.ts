import { describe, expect, it } from 'vitest';
import { BatchLedger } from '../../handlers/governor/batch-ledger.js';
import type { Reservation } from '../../handlers/governor/reservations.js';

/** A batch's ledger and what a batch decided ahead of its commit makes of it (batch.decidesAhead). */

const reservation = (planId: string): Reservation => ({
  planId,
  symbol: `${planId}USDT`,
  notional: 150,
  slot: true,
  bookQty: undefined,
  bookNotional: 0,
  reservedAt: 1_000,
  expiresAt: 121_000,
});

/** A batch that read cap version `version` with `held` reservations, then permitted `opens` and one close of BTCUSDT. */
function decided(version: string | null, held: string[], opens: string[]): BatchLedger {
  const ledger = new BatchLedger({ version, reservations: held.map(reservation) });
  let caps = Number(version ?? 0);
  for (const planId of opens) ledger.noteReservation(reservation(planId), String(++caps));
  ledger.notePermit('BTCUSDT', { previous: '7', version: '8', lastExecSec: 50, execTime: 50, dailyAdded: 0, dailyKey: 'd1' });
  ledger.notePermit('BTCUSDT', { previous: '8', version: '9', lastExecSec: 60, execTime: 60, dailyAdded: 0, dailyKey: 'd1' });
  return ledger;
}

describe('a batch decided ahead of the previous batch’s commit', () => {
  it('read before that commit (the version it started from): its reservations and version are laid over, each reservation once', () => {
    const ahead = decided('4', ['A'], ['B', 'C']);
    // The version read before the set: the set may already hold C (its commit landed between them).
    const next = new BatchLedger({ version: '4', reservations: [reservation('A'), reservation('C')] }, ahead);
    expect(next.capsPredicted).toBe(true);
    expect(next.caps.version).toBe('6');
    expect(next.caps.reservations.map((r) => r.planId)).toEqual(['A', 'C', 'B']);
  });

  it('read after that commit (the version it left), or after another writer: taken as read', () => {
    const ahead = decided('4', ['A'], ['B', 'C']);
    for (const version of ['6', '5', '11', null]) {
      const next = new BatchLedger({ version, reservations: [reservation('A')] }, ahead);
      expect(next.capsPredicted).toBe(false);
      expect(next.caps).toEqual({ version, reservations: [reservation('A')] });
    }
  });

  it('a batch ahead with no reservation lays nothing over the caps', () => {
    const next = new BatchLedger({ version: '4', reservations: [] }, decided('4', [], []));
    expect(next.capsPredicted).toBe(false);
    expect(next.caps.version).toBe('4');
  });

  it('a symbol: its changes only where the reads show the version the batch ahead found', () => {
    const ahead = decided(null, [], []);
    ahead.noteExitLock('BTCUSDT', 'close-1');
    const next = new BatchLedger({ version: null, reservations: [] }, ahead);
    expect(next.aheadOf('BTCUSDT', '7')).toEqual({
      changes: { from: '7', version: '9', dailyKey: 'd1', lastExecSec: 60, execTimes: [60, 50], dailyAdded: 0 },
      exitLock: 'close-1',
    });
    expect(next.aheadOf('BTCUSDT', '9')).toBeUndefined();
    expect(next.aheadOf('BTCUSDT', null)).toBeUndefined();
    expect(next.aheadOf('ETHUSDT', '7')).toBeUndefined();
    // The next batch's own decisions start empty.
    expect(next.symbol('BTCUSDT')).toBeUndefined();
    expect(next.exitLock('BTCUSDT')).toBeUndefined();
  });

  it('a disarm the batch ahead tripped holds for the next batch, and no further: batches do not chain', () => {
    const first = decided(null, [], []);
    first.noteDisarm();
    const second = new BatchLedger({ version: null, reservations: [] }, first);
    expect(second.disarmed).toBe(true);
    const third = new BatchLedger({ version: null, reservations: [] }, second);
    expect(third.disarmed).toBe(false);
    // Nor do the second batch's changes carry the first's.
    expect(third.aheadOf('BTCUSDT', '7')).toBeUndefined();
  });
});
