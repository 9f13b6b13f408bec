import { z } from 'zod';
import { defineHandler } from '../../runtime/handler.js';
import { keys } from '../../schemas/keys.js';
import { parseGovernorConfig } from './config.js';
import { cooldownMetrics } from './metrics.js';
import { COOLDOWN_QUEUE } from './record.js';
import { parseCooldown } from './snapshot.js';

/** The job the governor schedules with each cooldown (plus what the job runner adds). */
export const cooldownJobSchema = z.looseObject({
  symbol: z.string().min(1),
  plan_id: z.string().min(1),
  started_at: z.coerce.number(),
  until: z.coerce.number(),
});

/**
 * Consumes the delayed job that marks a symbol's cooldown end and announces it on the governor
 * events stream. A job whose cooldown was superseded (a close re-started it) stays silent: the
 * newer cooldown's own job reports the real end.
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
    const current = await ctx.redis.get(keys.governorCooldown(job.symbol));
    const running = current === null ? undefined : parseCooldown(current);
    if (running && running.planId !== undefined && running.planId !== job.plan_id) {
      ctx.metrics.superseded.inc();
      ctx.log.info({ symbol: job.symbol, plan_id: job.plan_id, newer_plan_id: running.planId }, 'cooldown superseded by a newer one; no event');
      return;
    }
    const now = ctx.now();
    ctx.emit(ctx.config.STREAM_EVENTS, {
      event: 'cooldown_expired',
      symbol: job.symbol,
      plan_id: job.plan_id,
      started_at: String(job.started_at / 1000),
      cooldown_until: String(job.until / 1000),
      timestamp: String(now / 1000),
    });
    ctx.metrics.expired.inc({ symbol: job.symbol });
    ctx.log.info({ symbol: job.symbol, plan_id: job.plan_id }, 'cooldown expired');
  },
});
