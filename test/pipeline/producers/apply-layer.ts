/**
 * The Apply Layer (microservices/apply_layer/main.py): reads the kernel's proposal hash, makes a
 * close plan with a plan_id of its own, and publishes it to quantum:stream:apply.plan
 * (MAXLEN ~ 10000) unless quantum:apply:stream_published:{plan_id} (SETEX 300) says it already did.
 * Seed era: 5da186c11 (the version at the seed commits); newest: 73fab1f55 (plans checked by
 * shared/contracts/apply_plan.py, 6e25aee60).
 */
import { createHash } from 'node:crypto';
import { pyJsonDumps, pyFloat, type PyJson } from '../../../schemas/python-json.js';
import { parsePyFloat } from '../../../schemas/python-number.js';
import { epochSec, pyInt, pyStr, xaddMaxlen, type Era, type ProducerRedis } from './upstream.js';

/**
 * The action `get_harvest_proposal` takes from the hash. Seed (5da186c11 lines 476-513): always
 * `harvest_action`. Newest (73fab1f55 lines 1098-1105, since 2907945a7): `action` when
 * `calibrated == "1"` and action is non-empty, else `harvest_action`.
 */
export function applyLayerAction(era: Era, hash: Record<string, string>): string | undefined {
  if (era === 'newest' && hash.calibrated === '1' && hash.action) return hash.action;
  return hash.harvest_action;
}

/** safe_float: float(v), None when absent or when float() raises. */
const safeFloat = (v: string | undefined): number | undefined => {
  const x = parsePyFloat(v);
  return x === undefined || Number.isNaN(x) ? undefined : x;
};

/**
 * `create_plan_id` (5da186c11 lines 522-527; 73fab1f55 lines 1137-1142): sha256 of
 * f"{symbol}:{harvest_action}:{kill_score:.6f}:{new_sl_proposed}:{computed_at_utc}", first 16 hex.
 * new_sl_proposed is safe_float's result: None (written "None") when the kernel proposed none.
 */
export function applyLayerPlanId(era: Era, symbol: string, hash: Record<string, string>): string {
  const killScore = safeFloat(hash.kill_score) ?? 0;
  const newSl = safeFloat(hash.new_sl_proposed);
  const fingerprint = `${symbol}:${applyLayerAction(era, hash) ?? 'None'}:${killScore.toFixed(6)}:${newSl === undefined ? 'None' : pyStr(newSl)}:${hash.computed_at_utc ?? ''}`;
  return createHash('sha256').update(fingerprint).digest('hex').slice(0, 16);
}

interface Steps {
  readonly decision: 'EXECUTE' | 'SKIP' | 'ERROR';
  readonly reasonCodes: string[];
  readonly steps: PyJson[];
}

const closeStep = (pct: number, step: string): PyJson => ({ step, type: 'market_reduce_only', side: 'close', pct: pyFloat(pct) });

/**
 * The steps for an action the kill-score and allowlist gates let through. Seed (5da186c11 lines
 * 601-641): FULL_CLOSE_PROPOSED, PARTIAL_75, PARTIAL_50 execute; HOLD skips; anything else (PARTIAL_25,
 * NONE) is ERROR unknown_action_{action}. Newest (73fab1f55 lines 1179-1240, 1400-1445): the action
 * is normalised first (PARTIAL_25 executes; UNKNOWN, NONE and other variants become HOLD: SKIP).
 */
export function applyLayerSteps(era: Era, action: string): Steps {
  const reasonCodes: string[] = [];
  let a = action;
  if (era === 'newest') {
    const upper = action.toUpperCase();
    if (!action || action === 'UNKNOWN') [a, reasonCodes[0]] = ['HOLD', 'action_normalized_unknown_to_hold'];
    else if (['EXIT', 'REDUCE', 'CLOSE', 'FULL_CLOSE'].includes(upper))
      [a, reasonCodes[0]] = ['FULL_CLOSE_PROPOSED', `action_normalized_${action.toLowerCase()}_to_close`];
    else if (['FULL_CLOSE_PROPOSED', 'PARTIAL_75', 'PARTIAL_50', 'PARTIAL_25', 'UPDATE_SL', 'HOLD'].includes(upper)) a = upper;
    else [a, reasonCodes[0]] = ['HOLD', `action_normalized_${action.toLowerCase()}_unknown_variant`];
  }
  if (a === 'FULL_CLOSE_PROPOSED') return { decision: 'EXECUTE', reasonCodes, steps: [closeStep(100, 'CLOSE_FULL')] };
  if (a === 'PARTIAL_75') return { decision: 'EXECUTE', reasonCodes, steps: [closeStep(75, 'CLOSE_PARTIAL_75')] };
  if (a === 'PARTIAL_50') return { decision: 'EXECUTE', reasonCodes, steps: [closeStep(50, 'CLOSE_PARTIAL_50')] };
  if (a === 'PARTIAL_25' && era === 'newest') return { decision: 'EXECUTE', reasonCodes, steps: [closeStep(25, 'CLOSE_PARTIAL_25')] };
  if (a === 'HOLD') return { decision: 'SKIP', reasonCodes: [...reasonCodes, 'action_hold'], steps: [] };
  return { decision: 'ERROR', reasonCodes: [...reasonCodes, `unknown_action_${a}`], steps: [] };
}

/** What the Apply Layer of `era` would do with `symbol`'s proposal hash right now. */
export function applyLayerPlanFor(era: Era, symbol: string, hash: Record<string, string>): { planId: string; action: string } & Steps {
  const action = applyLayerAction(era, hash) ?? '';
  return { planId: applyLayerPlanId(era, symbol, hash), action, ...applyLayerSteps(era, action) };
}

/**
 * `publish_plan`: seed 5da186c11 lines 663-699, newest 73fab1f55 lines 1496-1532 (adds qty, side
 * CLOSE, source apply_layer, reduceOnly true; close_qty becomes qty). Returns the entry's id, or
 * undefined when the stream_published key says it was published already.
 */
export async function publishApplyLayerPlan(
  redis: ProducerRedis & { exists(key: string): Promise<number> },
  era: Era,
  symbol: string,
  hash: Record<string, string>,
  nowMs: number,
): Promise<{ id: string | undefined; planId: string; fields: Record<string, string> }> {
  const plan = applyLayerPlanFor(era, symbol, hash);
  const published = `quantum:apply:stream_published:${plan.planId}`;
  const newSl = safeFloat(hash.new_sl_proposed);
  const rNet = safeFloat(hash.R_net);
  const head = {
    plan_id: plan.planId,
    symbol,
    action: plan.action,
    kill_score: pyStr(safeFloat(hash.kill_score) ?? 0),
    k_regime_flip: pyStr(safeFloat(hash.k_regime_flip) ?? 0),
    k_sigma_spike: pyStr(safeFloat(hash.k_sigma_spike) ?? 0),
    k_ts_drop: pyStr(safeFloat(hash.k_ts_drop) ?? 0),
    k_age_penalty: pyStr(safeFloat(hash.k_age_penalty) ?? 0),
    new_sl_proposed: newSl ? pyStr(newSl) : '',
    R_net: rNet === undefined ? 'None' : pyStr(rNet),
    decision: plan.decision,
    reason_codes: plan.reasonCodes.join(','),
    steps: pyJsonDumps(plan.steps),
  };
  const fields =
    era === 'seed'
      ? { ...head, close_qty: '0.0', price: '', timestamp: pyInt(epochSec(nowMs)) }
      : { ...head, qty: '0.0', side: 'CLOSE', source: 'apply_layer', price: '', reduceOnly: 'true', timestamp: pyInt(epochSec(nowMs)) };
  if (await redis.exists(published)) return { id: undefined, planId: plan.planId, fields };
  const id = await xaddMaxlen(redis, 'quantum:stream:apply.plan', fields, 10000);
  await redis.setex(published, 300, '1');
  return { id, planId: plan.planId, fields };
}
