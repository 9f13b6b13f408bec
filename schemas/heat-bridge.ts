import * as z from 'zod';
import { heatDecisionFields } from './heat-gate.js';

/**
 * What the heat bridge (P2.7) writes, as microservices/heat_bridge/main.py @ 3eb5fe66b does in
 * `write_lookup_keys`: the lookup hashes carry twelve fields of the decision (not its
 * inputs_age_sec), `latest` adds `last_plan_id`, and nothing else is written into them.
 */

type LookupField = Exclude<(typeof heatDecisionFields)[number], 'inputs_age_sec'>;

/** The twelve decision fields of `lookup_data`: the decision's own, in its order, without inputs_age_sec. */
export const lookupFields: readonly LookupField[] = heatDecisionFields.filter((field): field is LookupField => field !== 'inputs_age_sec');

const text = z.string();

/** quantum:harvest:heat:by_plan:{plan_id} (hash, TTL P27_TTL_PLAN_SEC). Exactly these fields. */
export const heatByPlanSchema = z.strictObject({
  ts_epoch: text,
  symbol: text,
  plan_id: text,
  in_action: text,
  out_action: text,
  heat_level: text,
  heat_score: text,
  heat_action: text,
  recommended_partial: text,
  reason: text,
  mode: text,
  /** "{}" when the decision had none. */
  debug_json: text,
});
export type HeatByPlan = z.infer<typeof heatByPlanSchema>;

/** quantum:harvest:heat:latest:{symbol} (hash, TTL P27_TTL_SYMBOL_SEC): by_plan's fields and last_plan_id. */
export const heatLatestSchema = heatByPlanSchema.extend({ last_plan_id: text });
export type HeatLatest = z.infer<typeof heatLatestSchema>;

/** The lookup hash of a decision: its twelve fields, "" for any it lacks ("{}" for debug_json), as the original. */
export function heatByPlanOf(decision: Readonly<Partial<Record<(typeof lookupFields)[number], string>>>): HeatByPlan {
  const fields = {} as Record<(typeof lookupFields)[number], string>;
  for (const name of lookupFields) fields[name] = decision[name] ?? (name === 'debug_json' ? '{}' : '');
  return fields;
}
