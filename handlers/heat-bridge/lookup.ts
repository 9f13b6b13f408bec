export { heatByPlanOf, lookupFields } from '../../schemas/heat-bridge.js';
export { compareStreamIds } from '../../schemas/fields.js';

/**
 * ts_epoch as the original read it for its metrics (`int(ts_epoch)`): whole seconds, else nothing.
 * Python's int() also took surrounding blanks and a sign.
 */
export function tsEpochOf(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const text = raw.trim();
  return /^[+-]?\d+$/.test(text) ? Number(text) : undefined;
}
