import { createHash } from 'node:crypto';
import { parsePyFloat, pyFloatStr } from '../../schemas/python-number.js';

/**
 * The plan_id the Apply Layer gives the plan it makes from a harvest proposal hash, so that a
 * decision about a kernel proposal (which carries no plan_id) and the heat bridge's
 * quantum:harvest:heat:by_plan:{plan_id} carry the id the Apply Layer's heat observer looks up.
 *
 * microservices/apply_layer/main.py `create_plan_id` (8f5055c52 lines 522-527, unchanged at
 * 73fab1f55 lines 1137-1142):
 *   fingerprint = f"{symbol}:{proposal['harvest_action']}:{proposal['kill_score']:.6f}:{proposal.get('new_sl_proposed', 'none')}:{proposal['computed_at_utc']}"
 *   return hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
 * with the proposal as `get_harvest_proposal` reads the hash: kill_score and new_sl_proposed
 * through float() (None when absent or unreadable; the key is always there, so a missing SL
 * prints "None"), computed_at_utc as written ("" when absent), and harvest_action the action the
 * Apply Layer takes (the calibrated one once enforce mode wrote it).
 *
 * Undefined when the Apply Layer makes no plan of it (kill_score missing or unreadable:
 * "Missing kill_score", no plan).
 */
export function applyLayerPlanId(
  symbol: string,
  action: string,
  fields: { readonly kill_score?: string; readonly new_sl_proposed?: string; readonly computed_at_utc?: string },
): string | undefined {
  const killScore = parsePyFloat(fields.kill_score);
  if (killScore === undefined) return undefined;
  const newSl = parsePyFloat(fields.new_sl_proposed);
  const fingerprint = `${symbol}:${action}:${pyFixed(killScore, 6)}:${newSl === undefined ? 'None' : pyFloatStr(newSl)}:${fields.computed_at_utc ?? ''}`;
  return createHash('sha256').update(fingerprint, 'utf8').digest('hex').slice(0, 16);
}

/**
 * Python's `f"{x:.{places}f}"` for a float below 1e21: exact ties round to even where
 * toFixed rounds them away from zero (an exact tie is a double whose x · 2^(places+1) is an
 * odd integer), and -0.0 keeps its sign.
 */
export function pyFixed(x: number, places: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  const magnitude = Math.abs(x);
  let text = magnitude.toFixed(places);
  const twice = magnitude * 2 ** (places + 1);
  if (Number.isInteger(twice) && twice % 2 === 1) {
    // toFixed took the larger neighbour; Python the even one. An odd last digit is never 0: no borrow.
    const last = Number(text[text.length - 1]);
    if (last % 2 === 1) text = text.slice(0, -1) + String(last - 1);
  }
  return sign + text;
}
