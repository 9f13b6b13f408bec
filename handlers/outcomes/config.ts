import * as z from 'zod';
import { envInt, parseEnv } from '../../schemas/env.js';
import { streams } from '../../schemas/keys.js';
import { positionBookEnvShape } from '../positions/book.js';
import { parseHorizons, type Horizon } from './horizons.js';

/** BullMQ queue of sample jobs (the shadow's, and those follow-ups scheduled before 1.11.0): since, samples wait in keys.outcomeDue for the sweep. */
export const OUTCOME_QUEUE = 'gates-outcome';

const outcomeEnvSchema = z
  .object({
    /** Horizons at which each followed decision is marked to market, shortest first. */
    OUTCOME_HORIZONS: z
      .string()
      .default('5m,1h,4h')
      .transform((text, ctx): Horizon[] => {
        try {
          return parseHorizons(text);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      }),
    /**
     * Follow-ups still awaiting samples (last horizon not yet reached) beyond which new ones are
     * skipped (and counted). Checked in the follow-up's own commit (follow-up.ts), so a burst or
     * several replicas cannot pass it.
     */
    OUTCOME_MAX_PENDING: envInt(10_000, 1),
    /**
     * A price read this long after the moment it stands for is late: a decision read after it
     * (entry price or position read by the follow-up), a sample taken after its horizon. Late reads
     * are said in the outcome entry (read_late, sample_late); a horizon already this far past when
     * its decision is read is recorded as missing (horizon_past), never sampled at today's price.
     */
    OUTCOME_LATE_SEC: envInt(5, 1),
    /** How often the samples due are taken (sample.ts outcomeSweep): a sample is taken within this of its horizon, under OUTCOME_LATE_SEC. */
    OUTCOME_SWEEP_SEC: envInt(3, 1),
    /** Samples one sweep takes at most (oldest first); the rest wait for the next. */
    OUTCOME_SWEEP_MAX: envInt(1000, 1),
    // The price rule of handlers/positions/prices.ts, under the position book's own names, so the
    // follow-ups price as the gates that decide do.
    POSITION_P33_PREFIXES: positionBookEnvShape.POSITION_P33_PREFIXES,
    PRICE_MAX_AGE_SEC: positionBookEnvShape.PRICE_MAX_AGE_SEC,
    PRICE_MAX_SKEW_SEC: positionBookEnvShape.PRICE_MAX_SKEW_SEC,
    OUTCOME_STREAM: z.string().min(1).default(streams.gatesOutcome),
    OUTCOME_GROUP: z.string().min(1).default('gates_outcomes'),
    // The streams the followed decisions are read from: the gates' own variables, so an override
    // of one moves both.
    P26_DECISION_STREAM: z.string().min(1).default(streams.heatDecision),
    STREAM_EVENTS: z.string().min(1).default(streams.governorEvents),
  })
  .superRefine((config, ctx) => {
    // A sweep as slow as the late bound would mark samples late that were taken as soon as the sweep came.
    if (config.OUTCOME_SWEEP_SEC >= config.OUTCOME_LATE_SEC)
      ctx.addIssue({ code: 'custom', path: ['OUTCOME_SWEEP_SEC'], message: `must be below OUTCOME_LATE_SEC (${config.OUTCOME_LATE_SEC})` });
  });

export type OutcomeConfig = z.infer<typeof outcomeEnvSchema>;

export const parseOutcomeConfig = (env: Readonly<Record<string, string | undefined>>): OutcomeConfig => parseEnv(outcomeEnvSchema, env);
