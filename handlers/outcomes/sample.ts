import * as z from 'zod';
import { defineHandler } from '../../runtime/contract/index.js';
import { parseNumber } from '../../schemas/fields.js';
import { keys } from '../../schemas/keys.js';
import { encodeOutcome } from '../../schemas/outcome.js';
import { OUTCOME_QUEUE, parseOutcomeConfig } from './config.js';
import { readMarket } from './market.js';
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
 * at commit). A price that cannot be
 * read is recorded as missing, never as zero.
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
    const { markPrice } = await readMarket(ctx.redis, record.symbol, ctx.now());
    const pnl = markToMarket(exposure, entryPrice, markPrice);
    const previousWorst = parseNumber(record.worst_pnl_usd);
    const worst = pnl === undefined ? previousWorst : previousWorst === undefined ? pnl : Math.min(previousWorst, pnl);

    ctx.setKey(keys.outcomeSample(job.id, job.horizon), '1', { ttlSec: 8 * 86_400 });
    if (worst !== undefined) ctx.putHash(keys.outcomeFollowUp(job.id), { worst_pnl_usd: String(worst) });
    ctx.emit(
      ctx.config.OUTCOME_STREAM,
      encodeOutcome({
        decision_id: job.id,
        kind: record.kind ?? '',
        symbol: record.symbol,
        plan_id: record.plan_id ?? '',
        bucket: record.bucket ?? '',
        mode: record.mode ?? '',
        proposed_action: record.proposed_action ?? '',
        decided_action: record.decided_action ?? '',
        horizon: job.horizon,
        horizon_sec: job.horizon_ms / 1000,
        decided_at: parseNumber(record.decided_at) ?? 0,
        sampled_at: ctx.now(),
        exposure_usd: exposure,
        entry_price: entryPrice,
        price: markPrice,
        pnl_usd: pnl === undefined ? undefined : cents(pnl),
        worst_pnl_usd: worst === undefined ? undefined : cents(worst),
      }),
    );
    ctx.metrics.samples.inc({ horizon: job.horizon, priced: pnl === undefined ? '0' : '1' });
  },
});
