import * as z from 'zod';
import { defineHandler } from '../../runtime/contract/index.js';
import { encodeGovernorEvent } from '../../schemas/governor-event.js';
import { keys } from '../../schemas/keys.js';
import { pySeconds } from '../../schemas/python-number.js';
import { parseGovernorConfig } from './config.js';
import { readNumberKey } from './history.js';
import { cooldownMetrics } from './metrics.js';
import { COOLDOWN_QUEUE } from './record.js';

/** The job the governor schedules with each cooldown (plus what the job runner adds). */
export const cooldownJobSchema = z.looseObject({
  symbol: z.string().min(1),
  plan_id: z.string().min(1),
  started_at: z.coerce.number(),
  until: z.coerce.number(),
});

/**
 * Consumes the delayed job that marks a symbol's cooldown end and announces it on the governor
 * events stream. A job whose cooldown was superseded (a later permit of the symbol wrote a newer
 * quantum:governor:last_exec) stays silent: the newer cooldown's own job reports the real end.
 */
export const governorCooldown = defineHandler({
  name: 'governor-cooldown',
  description: 'Emits cooldown_expired to the governor events stream when a symbol cooldown ends',
  trigger: { kind: 'queue', queue: COOLDOWN_QUEUE },
  input: cooldownJobSchema,
  config: parseGovernorConfig,
  metrics: cooldownMetrics,
  failure: { maxAttempts: 3, backoffMs: 50, policy: 'dead-letter' },
  async handle(job, ctx) {
    const lastExecSec = await readNumberKey(ctx.redis, keys.governorLastExec(job.symbol));
    // last_exec holds seconds with sub-ms digits: a newer permit is one at least a millisecond later.
    if (lastExecSec !== undefined && lastExecSec * 1000 > job.started_at + 1) {
      ctx.metrics.superseded.inc();
      ctx.log.info({ symbol: job.symbol, plan_id: job.plan_id, last_exec: lastExecSec }, 'cooldown superseded by a newer one; no event');
      return;
    }
    const now = ctx.now();
    ctx.emit(
      ctx.config.STREAM_EVENTS,
      encodeGovernorEvent({
        event: 'cooldown_expired',
        symbol: job.symbol,
        plan_id: job.plan_id,
        started_at: pySeconds(job.started_at),
        cooldown_until: pySeconds(job.until),
        timestamp: pySeconds(now),
      }),
    );
    ctx.metrics.expired.inc({ symbol: job.symbol });
    ctx.log.info({ symbol: job.symbol, plan_id: job.plan_id }, 'cooldown expired');
  },
});
