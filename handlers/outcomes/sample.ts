import * as z from 'zod';
import { defineHandler } from '../../runtime/contract/index.js';
import { parseNumber } from '../../schemas/fields.js';
import { keys } from '../../schemas/keys.js';
import { encodeOutcome } from '../../schemas/outcome.js';
import { OUTCOME_QUEUE, parseOutcomeConfig } from './config.js';
import { isLate, outcomeEntry } from './entry.js';
import { SAMPLE_KEY_TTL_SEC } from './follow-up.js';
import { readMark } from './market.js';
import { outcomeMetrics } from './metrics.js';
import { cents, markToMarket } from './pnl.js';
import { outcomesSection } from './status.js';

/** The delayed job each follow-up schedules per horizon (plus what the job runner adds). */
const sampleJob = z.looseObject({
  id: z.string().min(1),
  horizon: z.string().min(1),
  horizon_ms: z.coerce.number().int().positive(),
});

/**
 * Marks one followed decision to market at one horizon and writes the outcome entry. A job
 * delivered twice writes one sample (its sample key is declared: checked before handle, guarded
 * at commit). The price is the gates' rule (market.ts: the freshest quote within
 * PRICE_MAX_AGE_SEC); none is recorded as missing (`no_price`), never as zero. A job that runs
 * more than OUTCOME_LATE_SEC after its horizon says so (sample_late).
 */
export const outcomeSample = defineHandler({
  name: 'outcome-sample',
  description: 'Writes quantum:stream:gates.outcome samples of followed decisions at each horizon',
  trigger: { kind: 'queue', queue: OUTCOME_QUEUE },
  input: sampleJob,
  config: parseOutcomeConfig,
  metrics: outcomeMetrics,
  http: { status: [outcomesSection] },
  failure: { maxAttempts: 3, backoffMs: 50, policy: 'dead-letter' },
  // One sample per decision and horizon, also when the follow-up schedules it twice.
  idempotency: { keys: (job) => [keys.outcomeSample(job.id, job.horizon)], onDuplicate: () => undefined },
  async handle(job, ctx) {
    const record = await ctx.redis.hgetall(keys.outcomeFollowUp(job.id));
    if (record.symbol === undefined) {
      ctx.log.warn({ id: job.id }, 'outcome follow-up record expired before its sample');
      return;
    }
    const exposure = parseNumber(record.exposure_usd) ?? 0;
    const entryPrice = parseNumber(record.entry_price) ?? 0;
    const now = ctx.now();
    const mark = await readMark(ctx.redis, record.symbol, now, ctx.config, ctx);
    const pnl = markToMarket(exposure, entryPrice, mark?.price);
    const previousWorst = parseNumber(record.worst_pnl_usd);
    const worst = pnl === undefined ? previousWorst : previousWorst === undefined ? pnl : Math.min(previousWorst, pnl);
    const due = (parseNumber(record.decided_at) ?? 0) + job.horizon_ms;

    ctx.put(keys.outcomeSample(job.id, job.horizon), '1', { ttlSec: SAMPLE_KEY_TTL_SEC });
    if (worst !== undefined) ctx.put(keys.outcomeFollowUp(job.id), { worst_pnl_usd: String(worst) });
    ctx.emit(
      ctx.config.OUTCOME_STREAM,
      encodeOutcome(
        outcomeEntry(
          job.id,
          record,
          { label: job.horizon, ms: job.horizon_ms },
          {
            sampled_at: now,
            price: mark?.price,
            pnl_usd: pnl === undefined ? undefined : cents(pnl),
            worst_pnl_usd: worst === undefined ? undefined : cents(worst),
            sample_late: isLate(now, due, ctx.config.OUTCOME_LATE_SEC),
            missing_reason: pnl === undefined ? 'no_price' : undefined,
            price_source: mark?.source,
            price_at: mark?.asOfMs,
            price_age_ms: mark?.asOfMs === undefined ? undefined : Math.max(0, now - mark.asOfMs),
            late_bound_sec: ctx.config.OUTCOME_LATE_SEC,
          },
        ),
      ),
    );
    ctx.metrics.samples.inc({ horizon: job.horizon, priced: pnl === undefined ? '0' : '1' });
  },
});
