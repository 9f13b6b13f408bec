import { z } from 'zod';

/**
 * What the heat bridge (P2.7) writes, as microservices/heat_bridge/main.py @ 3eb5fe66b does in
 * `write_lookup_keys`: the lookup hashes carry twelve fields of the decision (not its
 * inputs_age_sec), `latest` adds `last_plan_id`, and nothing else is written into them.
 */

/** The twelve decision fields of `lookup_data`, in the original's order. */
export const lookupFields = [
  'ts_epoch',
  'symbol',
  'plan_id',
  'in_action',
  'out_action',
  'heat_level',
  'heat_score',
  'heat_action',
  'recommended_partial',
  'reason',
  'mode',
  'debug_json',
] as const;

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
