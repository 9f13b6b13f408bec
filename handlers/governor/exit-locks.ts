import * as z from 'zod';
import { defineHandler } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';
import { parseGovernorConfig, type GovernorConfig } from './config.js';
import { exitLockMetrics } from './metrics.js';

/**
 * Releases the production path's exit lock (quantum:exit:lock:{symbol}, upstream's 857b05342
 * fix #3 against double closes) when the close that took it has filled: an apply.result entry
 * of the holder's plan_id with `executed` true (the Apply Layer writes str(bool): "True"). A
 * close that did not execute keeps the lock until its TTL (GOV_EXIT_LOCK_TTL_SEC), as upstream's;
 * any other entry is acknowledged and counted by reason, never dead-lettered: the Apply Layer
 * writes every result there, whatever its shape. A fill is acknowledged only with its release,
 * or once Redis has answered that the lock is not its plan's.
 */
export const governorExitLocks = defineHandler({
  name: 'governor-exit-locks',
  description: "Releases a production close's exit lock when the Apply Layer reports its fill on apply.result",
  trigger: { kind: 'stream', stream: (c: GovernorConfig) => c.STREAM_RESULTS, group: () => 'governor-exit-locks' },
  // Every result is the Apply Layer's to shape: read what is there, nothing is invalid.
  input: z.looseObject({}),
  config: parseGovernorConfig,
  metrics: exitLockMetrics,
  failure: { maxAttempts: 3, backoffMs: 50, policy: 'dead-letter' },
  async handle(_result, ctx) {
    const { plan_id: planId, symbol, executed } = ctx.meta.raw;
    if (planId === undefined || planId === '' || symbol === undefined || symbol === '') {
      ctx.metrics.ignored.inc({ reason: 'unreadable' });
      return;
    }
    if ((executed ?? '').trim().toLowerCase() !== 'true') {
      ctx.metrics.ignored.inc({ reason: 'not_executed' });
      return;
    }
    const lockKey = keys.governorExitLock(symbol);
    // A read Redis does not answer is no answer: it throws, and the fill stays pending until the
    // release lands (the runtime does not charge a stall to the message). Read as "no holder", a
    // stall acknowledged the fill and kept the lock for its whole TTL.
    const holder = await ctx.redis.get(lockKey);
    if (holder !== planId) {
      ctx.metrics.ignored.inc({ reason: 'not_holder' });
      return;
    }
    // Only if the lock is still this close's when the commit runs: a later close's lock stays.
    ctx.require(lockKey, { is: 'holding', value: planId });
    ctx.remove(lockKey);
    ctx.metrics.released.inc();
    ctx.log.info({ symbol, plan_id: planId }, 'exit lock released: the close filled');
  },
});
