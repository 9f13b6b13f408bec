/** The twelve fields of a heat decision that the lookup keys carry (the heat gate's output). */
export const decisionFields = [
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

/** The by_plan hash: the decision's fields, blanks for any the producer left out (as the original). */
export function lookupFields(raw: Readonly<Record<string, string>>): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const name of decisionFields) fields[name] = raw[name] ?? (name === 'debug_json' ? '{}' : '');
  return fields;
}

export { compareStreamIds } from '../../schemas/fields.js';

