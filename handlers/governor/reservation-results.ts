import * as z from 'zod';
import { defineHandler, type MetricFactory } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';
import { parseGovernorConfig, type GovernorConfig } from './config.js';
import { parseReservation } from './reservations.js';

function metrics(m: MetricFactory) {
  return {
    released: m.counter({
      name: 'quantum_govern_reservation_released_total',
      help: 'Reservations released because the Apply Layer reported their order did not execute (apply.result executed False)',
    }),
    ignored: m.counter({
      name: 'quantum_govern_reservation_result_ignored_total',
      help: 'apply.result entries that released no reservation, by reason (executed, no_reservation, unreadable)',
      labelNames: ['reason'],
    }),
  };
}

/** A score below every read and every trim's bound: the member counts nowhere and the next reserving permit removes it. */
const RELEASED_SCORE = 0;

/**
 * Releases a reservation whose order is known not to fill: an apply.result entry of its plan_id
 * with `executed` False. The Apply Layer writes `executed` as str(bool) with an `error` for every
 * plan it did not execute, before any order goes out (microservices/apply_layer/main.py at
 * 8f5055c52, publish_result lines 1315-1329, the refusals of execute_testnet lines 762-918; at
 * 73fab1f55 publish_result lines 2401-2416 and the entry's position_limit_reached lines 2767-2778).
 * An executed order is left to the book: it is consumed by what of it shows (reservations.ts).
 * Every other entry is acknowledged and counted by reason, never dead-lettered: the Apply Layer
 * writes every result there, whatever its shape.
 */
export const governorReservationResults = defineHandler({
  name: 'governor-reservation-results',
  description: 'Releases a testnet open’s reservation when the Apply Layer reports on apply.result that its order did not execute',
  trigger: { kind: 'stream', stream: (c: GovernorConfig) => c.STREAM_RESULTS, group: () => 'governor-reservations' },
  // Every result is the Apply Layer's to shape: read what is there, nothing is invalid.
  input: z.looseObject({}),
  config: parseGovernorConfig,
  metrics,
  failure: { maxAttempts: 3, backoffMs: 50, policy: 'dead-letter' },
  async handle(_result, ctx) {
    const { plan_id: planId, executed } = ctx.meta.raw;
    const said = (executed ?? '').trim().toLowerCase();
    if (planId === undefined || planId === '' || (said !== 'true' && said !== 'false')) {
      ctx.metrics.ignored.inc({ reason: 'unreadable' });
      return;
    }
    if (said === 'true') {
      ctx.metrics.ignored.inc({ reason: 'executed' });
      return;
    }
    const flat = await ctx.redis.zrangebyscore(keys.governorReservations, `(${RELEASED_SCORE}`, '+inf', 'WITHSCORES');
    let member: string | undefined;
    for (let i = 0; i + 1 < flat.length && member === undefined; i += 2)
      if (parseReservation(flat[i]!, flat[i + 1]!)?.planId === planId) member = flat[i];
    if (member === undefined) {
      ctx.metrics.ignored.inc({ reason: 'no_reservation' });
      return;
    }
    // No removal effect exists; rescored out of every read instead, within the key's usual TTL.
    ctx.add(keys.governorReservations, member, {
      to: 'sorted-set',
      score: RELEASED_SCORE,
      ttlSec: 2 * ctx.config.GOV_RESERVATION_TIMEOUT_SEC,
    });
    ctx.metrics.released.inc();
    ctx.log.info({ plan_id: planId, error: (ctx.meta.raw.error ?? '').slice(0, 200) }, 'reservation released: the order did not execute');
  },
});
