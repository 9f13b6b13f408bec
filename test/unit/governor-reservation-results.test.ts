import { describe, expect, it } from 'vitest';
import { governorReservationResults } from '../../handlers/governor/reservation-results.js';
import { encodeReservation, type Reservation } from '../../handlers/governor/reservations.js';
import { keys } from '../../schemas/keys.js';
import { runHandler } from '../support/fake-ctx.js';

const NOW = 1_800_000_000_000;

const held: Reservation = {
  planId: 'o1',
  symbol: 'NEWUSDT',
  notional: 150,
  slot: true,
  bookQty: undefined,
  bookNotional: 0,
  orderQty: 1.5,
  direction: 1,
  reservedAt: NOW - 1000,
  expiresAt: NOW + 119_000,
};
const member = encodeReservation(held);
const redis = { sortedSets: { [keys.governorReservations]: { [member]: held.expiresAt } } };

/**
 * apply.result as the Apply Layer writes it (microservices/apply_layer/main.py at 8f5055c52,
 * publish_result lines 1315-1329: executed is str(bool), error the refusal).
 */
const result = (planId: string, executed: string, error = '') => ({
  plan_id: planId,
  symbol: 'NEWUSDT',
  decision: 'BLOCKED',
  executed,
  would_execute: 'False',
  steps_results: '[]',
  error,
  timestamp: String(NOW / 1000),
});

describe('governor-reservation-results', () => {
  it('releases the reservation of an order that did not execute: rescored out of every read, within the key’s TTL', async () => {
    const run = await runHandler(governorReservationResults, result('o1', 'False', 'p33_permit_denied'), { now: NOW, redis });
    expect(run.recorder.effects).toEqual([{ op: 'addToSortedSet', key: keys.governorReservations, score: 0, member, ttlSec: 240 }]);
    expect(run.metrics.get('quantum_govern_reservation_released_total')).toBe(1);
  });

  it.each([
    ['executed', result('o1', 'True')],
    ['no_reservation', result('o9', 'False', 'kill_switch_active')],
    ['unreadable', { executed: 'False' }],
    ['unreadable', result('o1', '')],
  ])('acknowledges a result that releases nothing, counted as %s', async (reason, fields) => {
    const run = await runHandler(governorReservationResults, fields, { now: NOW, redis });
    expect(run.recorder.effects).toEqual([]);
    expect(run.metrics.get('quantum_govern_reservation_result_ignored_total', { reason })).toBe(1);
  });
});
