import * as z from 'zod';
import { fieldsToRecord } from './fields.js';

/**
 * What the heat gate (P2.6) writes, field by field as the originals wrote it:
 * - the calibrated entry (quantum:stream:harvest.calibrated) and the enforce hash
 *   (quantum:harvest:proposal:{symbol}) of microservices/portfolio_heat_gate/main.py @ 1370c1def,
 *   `_process_proposal`;
 * - the heat decision (quantum:stream:harvest.heat.decision) of microservices/heat_gate @
 *   3eb5fe66b, `HeatGateLogic.process_harvest_proposal`, which the heat bridge (P2.7) reads.
 * Writers build these records through the types below; readers parse with the schemas, so a
 * renamed field is a type error rather than a blank on a dashboard.
 */

const text = z.string();

/** The gate's reasons (`_apply_gating_rule`): the calibrated entry's `reason`, the hash's `downgrade_reason`. */
export const calibrationReasons = [
  'partial_unchanged',
  'non_full_close_unchanged',
  'portfolio_heat_cold',
  'portfolio_heat_warm',
  'portfolio_heat_hot',
] as const;
export type CalibrationReason = (typeof calibrationReasons)[number];

export const heatBuckets = ['COLD', 'WARM', 'HOT'] as const;
export type HeatBucket = (typeof heatBuckets)[number];

/**
 * Why a decision was taken without a trusted heat (fail-closed, so treated as COLD). Ours: the
 * original put no cause on the entry. Written in `fail_closed_cause`, a field of our own, only on
 * such decisions; `reason` stays the original's.
 */
export const failClosedCauses = [
  'portfolio_state_missing',
  'equity_missing',
  'equity_not_a_number',
  'equity_not_positive',
  'position_not_a_number',
  'position_stamped_ahead',
  'heat_gate_error',
  'invalid_input',
  'book_unreadable',
] as const;
export type FailClosedCause = (typeof failClosedCauses)[number];

/** Fields of our own on the calibrated entry and the decision (present only when they apply). */
const ownFields = {
  fail_closed_cause: z.enum(failClosedCauses).optional(),
  /** "true" when the heat was capped (non-finite or above the cap). */
  heat_capped: z.literal('true').optional(),
  /**
   * Ours (issue #70): the heat is a lower bound (the heat of the figures trusted), taken because it
   * already proves HOT; the cause the rest is unknown (a fail_closed_cause's name). Absent otherwise.
   */
  heat_lower_bound: z.enum(failClosedCauses).optional(),
};

/**
 * An entry of quantum:stream:harvest.calibrated: these fields, then the proposal's others (parse
 * with `.loose()` to keep them).
 */
export const calibratedEntrySchema = z.object({
  trace_id: text,
  plan_id: text,
  symbol: text,
  original_action: text,
  calibrated_action: text,
  /** str(heat): Python float text. */
  heat_value: text,
  heat_bucket: z.enum(heatBuckets),
  mode: text,
  /** Always "true" in the original, downgraded or not. */
  calibrated: z.literal('true'),
  reason: z.enum(calibrationReasons),
  /** Epoch seconds. */
  timestamp: text,
  ...ownFields,
});
export type CalibratedEntry = z.infer<typeof calibratedEntrySchema>;

/**
 * The calibrated entry as readers take it: the status page and `report shadow` also read entries
 * an earlier quantum-gates wrote (other reasons, calibrated "false"), so only the fields they use
 * are required.
 */
export const calibratedEntryReader = z.looseObject({
  plan_id: text.optional(),
  symbol: text.optional(),
  original_action: text.optional(),
  calibrated_action: text.optional(),
  heat_value: text.optional(),
  heat_bucket: text.optional(),
  mode: text.optional(),
  reason: text.optional(),
  fail_closed_cause: text.optional(),
  heat_capped: text.optional(),
  heat_lower_bound: text.optional(),
});

/**
 * The fields the gate HSETs over the Harvest Kernel's quantum:harvest:proposal:{symbol} in enforce
 * mode. HSET, never a replace: every other field the kernel wrote stays. The proposal's own fields
 * (its `reason`, `harvest_action`, …) are set after these, except `action` and these names.
 */
export const enforceHashSchema = z.object({
  trace_id: text,
  plan_id: text,
  symbol: text,
  /** The calibrated action: the upstream Apply Layer uses it when calibrated is "1". */
  action: text,
  original_action: text,
  heat_value: text,
  heat_bucket: z.enum(heatBuckets),
  calibrated: z.literal('1'),
  calibrated_by: z.literal('p26_heat_gate'),
  downgrade_reason: z.enum(calibrationReasons),
  /** Epoch seconds. */
  ts: text,
  /**
   * Only for an Apply Layer that reads harvest_action alone (P26_APPLY_LAYER_ERA=seed, upstream
   * 8f5055c52): the calibrated action, written over the kernel's (kept in original_action).
   */
  harvest_action: text.optional(),
});
export type EnforceHash = z.infer<typeof enforceHashSchema>;

/** `heat_action` of a decision. HOLD_CLOSE was a shadow-only marker of the original that this gate never sets. */
export const heatActions = ['NONE', 'DOWNGRADE_FULL_TO_PARTIAL', 'HOLD_CLOSE'] as const;

/** `heat_level` of a decision: the bucket in lower case, "unknown" when the heat could not be trusted. */
export const heatLevels = ['cold', 'warm', 'hot', 'unknown'] as const;

/** The thirteen fields of a heat decision, in the original's order. */
export const heatDecisionFields = [
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
  'inputs_age_sec',
  'mode',
  'debug_json',
] as const;

/** The original's debug_json is cut at 400 characters; ours is built to fit. */
export const DEBUG_JSON_MAX = 400;

/** An entry of quantum:stream:harvest.heat.decision as the heat gate writes it. */
export const heatDecisionEntrySchema = z.object({
  ts_epoch: text,
  symbol: text,
  plan_id: text,
  in_action: text,
  out_action: text,
  heat_level: z.enum(heatLevels),
  /** round(heat, 4) as Python text. */
  heat_score: text,
  heat_action: z.enum(heatActions),
  /** "0.25" / "0.75" when downgraded, else "". */
  recommended_partial: text,
  /** "ok", "missing_inputs" or "compute_error:{cause}" (the original's vocabulary). */
  reason: text,
  /** Age of the inputs in seconds; "" (the heat here comes from no single timestamped state). */
  inputs_age_sec: text,
  mode: text,
  debug_json: text.max(DEBUG_JSON_MAX),
  ...ownFields,
  /** Ours (issue #40): every symbol's share of the heat as compact JSON, on a trusted decision with a counted position. */
  heat_by_symbol: text.optional(),
  /** Ours: the decision's time in ms on the gate's clock (ts_epoch is whole seconds). */
  decided_at_ms: text,
});
export type HeatDecisionEntry = z.infer<typeof heatDecisionEntrySchema>;

/**
 * A heat decision as its readers take it (the heat bridge, outcome follow-ups): from this gate or
 * any other producer of the stream (the original heat gate, seed 004's inject script). plan_id and
 * symbol are required and used verbatim (any length, any characters, as the original bridge
 * keyed them); every other field may be missing.
 */
export const heatDecisionReader = z.looseObject({
  plan_id: z.string().min(1, 'must not be empty'),
  symbol: z.string().min(1, 'must not be empty'),
  ts_epoch: text.optional(),
  in_action: text.optional(),
  out_action: text.optional(),
  heat_level: text.optional(),
  heat_score: text.optional(),
  heat_action: text.optional(),
  recommended_partial: text.optional(),
  reason: text.optional(),
  inputs_age_sec: text.optional(),
  mode: text.optional(),
  debug_json: text.optional(),
});
export type HeatDecisionRead = z.infer<typeof heatDecisionReader>;

/** A wire record built from one of the types above: its fields as Redis takes them, absent ones left out. */
export function wireFields(record: object): Record<string, string> {
  // A record without Object.prototype: carried proposal fields named __proto__ stay data.
  const out = fieldsToRecord([]);
  for (const [name, value] of Object.entries(record)) if (typeof value === 'string') out[name] = value;
  return out;
}
