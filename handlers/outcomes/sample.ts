import * as z from 'zod';
import { parseDueSample, sampleJob, type SampleJob } from './due.js';
import { defineHandler, type HandlerContext } from '../../runtime/contract/index.js';
import { parseNumber } from '../../schemas/fields.js';
import { keys } from '../../schemas/keys.js';
import { encodeOutcome } from '../../schemas/outcome.js';
import type { PriceQuote } from '../positions/prices.js';
import { refusedAs } from '../positions/read-commands.js';
import { OUTCOME_QUEUE, parseOutcomeConfig, type OutcomeConfig } from './config.js';
import { isLate, outcomeEntry } from './entry.js';
import { SAMPLE_KEY_TTL_SEC } from './follow-up.js';
import { readMark } from './market.js';
import { outcomeMetrics, type OutcomeMetrics } from './metrics.js';
import { cents, markToMarket } from './pnl.js';
import { outcomesSection } from './status.js';

type SampleCtx = HandlerContext<OutcomeConfig, unknown, OutcomeMetrics>;

/**
 * Writes `job`'s sample of the followed decision `record` at `mark` (none: missing, `no_price`,
 * never zero): its outcome entry, its sample key, and the worst P&L so far (`previousWorst` and
 * this one's, returned). A sample taken more than OUTCOME_LATE_SEC after its horizon says so
 * (sample_late).
 */
function writeSample(
  ctx: SampleCtx,
  job: SampleJob,
  record: Readonly<Record<string, string>>,
  mark: PriceQuote | undefined,
  previousWorst: number | undefined,
): number | undefined {
  const now = ctx.now();
  const pnl = markToMarket(parseNumber(record.exposure_usd) ?? 0, parseNumber(record.entry_price) ?? 0, mark?.price);
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
  return worst;
}

/**
 * Marks one followed decision to market at one horizon (a job: the shadow's samples, and the jobs
 * follow-ups scheduled before 1.11.0 put their samples in keys.outcomeDue). A job delivered twice
 * writes one sample (its sample key is declared: checked before handle, guarded at commit). The
 * price is the gates' rule (market.ts: the freshest quote within PRICE_MAX_AGE_SEC).
 */
export const outcomeSample = defineHandler({
  name: 'outcome-sample',
  description: 'Writes quantum:stream:gates.outcome samples of followed decisions at each horizon',
  trigger: { kind: 'queue', queue: OUTCOME_QUEUE },
  input: sampleJob,
  config: parseOutcomeConfig,
  metrics: outcomeMetrics,
  failure: { maxAttempts: 3, backoffMs: 50, policy: 'dead-letter' },
  // One sample per decision and horizon, also when the follow-up schedules it twice.
  idempotency: { keys: (job) => [keys.outcomeSample(job.id, job.horizon)], onDuplicate: () => undefined },
  async handle(job, ctx) {
    const record = await ctx.redis.hgetall(keys.outcomeFollowUp(job.id));
    if (record.symbol === undefined) {
      ctx.log.warn({ id: job.id }, 'outcome follow-up record expired before its sample');
      return;
    }
    const mark = await readMark(ctx.redis, record.symbol, ctx.now(), ctx.config, ctx);
    writeSample(ctx, job, record, mark, parseNumber(record.worst_pnl_usd));
  },
});

/**
 * Takes every sample due by now (keys.outcomeDue, oldest first, at most OUTCOME_SWEEP_MAX a tick)
 * every OUTCOME_SWEEP_SEC: a sample is taken within that of its horizon, under OUTCOME_LATE_SEC.
 * One tick for all of them, where a BullMQ job a followed decision cost ~220 Redis commands for its
 * three samples (`npx tsx bench/outcome-follow.ts`). Each sample is guarded by its absent sample key
 * in the tick's commit (a second replica's tick, or a job of before 1.11.0, cannot write it twice)
 * and leaves keys.outcomeDue in that same commit; one found written only leaves it. A member that is
 * no sample, or whose follow-up record is gone or unreadable, leaves it with a warning.
 */
export const outcomeSweep = defineHandler({
  name: 'outcome-sweep',
  description: 'Takes the samples of followed decisions due by now (quantum:gates:outcome:due) every OUTCOME_SWEEP_SEC',
  trigger: { kind: 'schedule', queue: 'gates-outcome-sweep', everyMs: (c: OutcomeConfig) => c.OUTCOME_SWEEP_SEC * 1000 },
  input: z.looseObject({}),
  config: parseOutcomeConfig,
  metrics: outcomeMetrics,
  http: { status: [outcomesSection] },
  // A tick that fails leaves every sample due: the next tick takes them.
  failure: {
    maxAttempts: 3,
    backoffMs: 50,
    policy: 'fail-open',
    fallback: (_tick, failure, ctx) => {
      ctx.log.error({ attempts: failure.attempts }, 'outcome sweep failed; the samples due stay due for the next tick');
      ctx.summarize({ samples: 0, failed_attempts: failure.attempts });
    },
  },
  async handle(_tick, ctx) {
    const now = ctx.now();
    const members = await ctx.redis.zrangebyscore(keys.outcomeDue, '-inf', now, 'LIMIT', 0, ctx.config.OUTCOME_SWEEP_MAX);
    const due: [member: string, job: SampleJob][] = [];
    for (const member of members) {
      const job = parseDueSample(member);
      if (job !== undefined) due.push([member, job]);
      else {
        ctx.log.warn({ member: member.slice(0, 200) }, 'quantum:gates:outcome:due holds no sample: removed');
        ctx.remove(keys.outcomeDue, { from: 'sorted-set', member });
      }
    }
    const [taken, records] = await Promise.all([
      Promise.all(due.map(([, job]) => ctx.redis.exists(keys.outcomeSample(job.id, job.horizon)))),
      Promise.all(due.map(([, job]) => ctx.redis.hgetall(keys.outcomeFollowUp(job.id)).catch(refusedAs(undefined)))),
    ]);
    const symbols = [...new Set(records.flatMap((record) => (record?.symbol === undefined ? [] : [record.symbol])))];
    const marks = new Map(
      await Promise.all(
        symbols.map(
          async (symbol) => [symbol, await readMark(ctx.redis, symbol, now, ctx.config, ctx).catch(refusedAs(undefined))] as const,
        ),
      ),
    );
    // A follow-up's worst P&L so far, carried from one of its samples to the next of the same tick.
    const worstSoFar = new Map<string, number | undefined>();
    // One sample a key, also where two members stand for it (written by hand): the commit's guards see neither written.
    const takenNow = new Set<string>();
    let written = 0;
    due.forEach(([member, job], i) => {
      ctx.remove(keys.outcomeDue, { from: 'sorted-set', member });
      const record = records[i];
      const sampleKey = keys.outcomeSample(job.id, job.horizon);
      if (taken[i]! > 0 || takenNow.has(sampleKey)) return;
      if (record?.symbol === undefined) {
        ctx.log.warn({ id: job.id, horizon: job.horizon }, 'outcome follow-up record expired or unreadable before its sample');
        return;
      }
      takenNow.add(sampleKey);
      ctx.require(sampleKey, { is: 'absent' });
      const previous = worstSoFar.has(job.id) ? worstSoFar.get(job.id) : parseNumber(record.worst_pnl_usd);
      worstSoFar.set(job.id, writeSample(ctx, job, record, marks.get(record.symbol), previous));
      written++;
    });
    ctx.summarize({ samples: written, due: members.length });
  },
});
