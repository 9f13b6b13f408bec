import * as z from 'zod';
import { envInt, parseEnv } from '../../runtime/contract/index.js';
import { streams } from '../../schemas/keys.js';
import { parseHorizons, type Horizon } from './horizons.js';

/** BullMQ queue of the outcome samples, one delayed job per decision and horizon. */
export const OUTCOME_QUEUE = 'gates-outcome';

const outcomeEnvSchema = z.object({
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
  /** Follow-ups still awaiting samples beyond which new ones are skipped (and counted). */
  OUTCOME_MAX_PENDING: envInt(10_000, 1),
  OUTCOME_STREAM: z.string().min(1).default(streams.gatesOutcome),
  OUTCOME_GROUP: z.string().min(1).default('gates_outcomes'),
  // The streams the followed decisions are read from: the gates' own variables, so an override
  // of one moves both.
  P26_DECISION_STREAM: z.string().min(1).default(streams.heatDecision),
  STREAM_EVENTS: z.string().min(1).default(streams.governorEvents),
});

export type OutcomeConfig = z.infer<typeof outcomeEnvSchema>;

export const parseOutcomeConfig = (env: Readonly<Record<string, string | undefined>>): OutcomeConfig => parseEnv(outcomeEnvSchema, env);
