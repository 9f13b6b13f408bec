import { FREE_TEXT_MAX } from '../../schemas/harvest-proposal.js';
import {
  DEBUG_JSON_MAX,
  type CalibratedEntry,
  type EnforceHash,
  type FailClosedCause,
  type HeatBucket,
  type HeatDecisionEntry,
  wireFields,
} from '../../schemas/heat-gate.js';
import { pyFloatStr, pythonRound } from '../../schemas/python-number.js';
import { applyLayerRules, type ApplyLayerEra } from './apply-layer-era.js';
import { decisionRecordFields } from './decision-record.js';
import type { Calibration } from './calibrate.js';
import type { HeatAssessment } from '../positions/heat.js';

/**
 * The gate's three outputs built from one decision, field by field as the originals wrote them
 * (see schemas/heat-gate.ts). Pure: the handler records them.
 */

/** A mark by the price rule of handlers/positions/prices.ts: its price, source and time (ms; undefined: a quote of no time). */
export interface DecisionMark {
  readonly price: number;
  readonly source: string;
  readonly asOfMs: number | undefined;
  /** ms between the quote's time and the decision (undefined: a quote of no time). */
  readonly ageMs: number | undefined;
}

/** The symbol's mark and position at decision time (see DecisionFacts.atDecision). */
export interface AtDecision {
  readonly mark: DecisionMark | null;
  readonly positionUsd: number | undefined;
}

export interface DecisionFacts {
  readonly traceId: string;
  readonly planId: string;
  readonly symbol: string;
  readonly action: string;
  readonly bucket: HeatBucket;
  readonly assessment: HeatAssessment;
  readonly calibration: Calibration;
  readonly mode: string;
  readonly nowMs: number;
  readonly heatMin: number;
  readonly heatMax: number;
  /** The proposal's entry id, for the debug field. */
  readonly sourceId: string;
  /**
   * Only for a decision that changed the action: the symbol's mark and position at decision time,
   * for the outcome follow-up (docs/outcomes.md), so a follow-up read late never prices the
   * decision at a later mark. `mark` null: the gate found no price fresh enough.
   */
  readonly atDecision?: AtDecision;
}

/** The proposal's own fields, capped at FREE_TEXT_MAX characters. */
export interface CarriedFields {
  /** The entry's fields: every one but `action` is carried, in the entry's order, long values cut at FREE_TEXT_MAX. */
  readonly raw: Readonly<Record<string, string>>;
  /** The names of fields that were cut. */
  readonly cut: readonly string[];
}

export function carriedFields(raw: Readonly<Record<string, string>>): CarriedFields {
  return { raw, cut: Object.keys(raw).filter((name) => name !== 'action' && raw[name]!.length > FREE_TEXT_MAX) };
}

const failCause = (a: HeatAssessment): FailClosedCause | undefined => (a.trusted ? undefined : a.cause);
const heatOf = (a: HeatAssessment): number => (a.trusted ? a.heat : 0);
const capped = (a: HeatAssessment): boolean => a.trusted && a.capped;

/** Our own fields, present only when they apply. */
function ownFields(a: HeatAssessment): { fail_closed_cause?: FailClosedCause; heat_capped?: 'true'; heat_lower_bound?: FailClosedCause } {
  const cause = failCause(a);
  const lowerBound = a.trusted ? a.lowerBound?.cause : undefined;
  return {
    ...(cause === undefined ? {} : { fail_closed_cause: cause }),
    ...(capped(a) ? { heat_capped: 'true' as const } : {}),
    ...(lowerBound === undefined ? {} : { heat_lower_bound: lowerBound }),
  };
}

/** Adds the carried fields after `own`, skipping names already written (the original's `key not in calibrated`). */
function withCarried(own: object, carried: CarriedFields, skip: ReadonlySet<string> = new Set()): Record<string, string> {
  const out = wireFields(own);
  const raw = carried.raw;
  for (const name in raw) {
    // `action` is the one field the original did not carry (`key not in (b"action",)`).
    if (name === 'action' || Object.hasOwn(out, name) || skip.has(name)) continue;
    const value = raw[name]!;
    out[name] = value.length > FREE_TEXT_MAX ? value.slice(0, FREE_TEXT_MAX) : value;
  }
  return out;
}

/** quantum:stream:harvest.calibrated (`calibrated = {...}` in `_process_proposal`). */
export function calibratedEntry(facts: DecisionFacts, carried: CarriedFields): Record<string, string> {
  const entry: CalibratedEntry = {
    trace_id: facts.traceId,
    plan_id: facts.planId,
    symbol: facts.symbol,
    original_action: facts.action,
    calibrated_action: facts.calibration.calibratedAction,
    heat_value: pyFloatStr(heatOf(facts.assessment)),
    heat_bucket: facts.bucket,
    mode: facts.mode,
    calibrated: 'true',
    reason: facts.calibration.reason,
    timestamp: String(Math.floor(facts.nowMs / 1000)),
    ...ownFields(facts.assessment),
  };
  return withCarried(entry, carried);
}

/**
 * quantum:harvest:proposal:{symbol} in enforce mode (`hash_data` in `_process_proposal`): HSET
 * over the kernel's hash, so every field it wrote and these do not name stays. A carried value
 * that had to be cut is left out, so the kernel's own full value stays in the hash.
 */
export function enforceHash(
  facts: DecisionFacts,
  carried: CarriedFields | undefined,
  era: ApplyLayerEra = 'newest',
): Record<string, string> {
  const hash: EnforceHash = {
    trace_id: facts.traceId,
    plan_id: facts.planId,
    symbol: facts.symbol,
    action: facts.calibration.calibratedAction,
    original_action: facts.action,
    heat_value: pyFloatStr(heatOf(facts.assessment)),
    heat_bucket: facts.bucket,
    calibrated: '1',
    calibrated_by: 'p26_heat_gate',
    downgrade_reason: facts.calibration.reason,
    ts: String(Math.floor(facts.nowMs / 1000)),
    // An Apply Layer that reads harvest_action alone sees the calibration only there.
    ...(applyLayerRules[era].actionField === 'harvest_action' ? { harvest_action: facts.calibration.calibratedAction } : {}),
  };
  return carried === undefined ? wireFields(hash) : withCarried(hash, carried, new Set(carried.cut));
}

/** The decision's `reason` in the original heat gate's words: "ok", or why the heat is not a computed one. */
function decisionReason(a: HeatAssessment): string {
  if (a.trusted) return 'ok';
  return a.cause === 'portfolio_state_missing' ? 'missing_inputs' : `compute_error:${a.cause}`;
}

/** quantum:stream:harvest.heat.decision (`process_harvest_proposal` of microservices/heat_gate/logic.py). */
export function heatDecisionEntry(facts: DecisionFacts): Record<string, string> {
  const a = facts.assessment;
  const entry: HeatDecisionEntry = {
    ts_epoch: String(Math.floor(facts.nowMs / 1000)),
    symbol: facts.symbol,
    plan_id: facts.planId,
    in_action: facts.action,
    out_action: facts.calibration.calibratedAction,
    heat_level: a.trusted ? (facts.bucket.toLowerCase() as 'cold' | 'warm' | 'hot') : 'unknown',
    heat_score: pyFloatStr(a.trusted ? pythonRound(a.heat, 4) : 0),
    heat_action: facts.calibration.downgraded ? 'DOWNGRADE_FULL_TO_PARTIAL' : 'NONE',
    recommended_partial: facts.calibration.recommendedPartial === undefined ? '' : pyFloatStr(facts.calibration.recommendedPartial),
    reason: decisionReason(a),
    inputs_age_sec: '',
    mode: facts.mode,
    debug_json: debugJson(facts),
    ...ownFields(a),
    ...decisionRecordFields(a, facts.nowMs),
  };
  // Every field is a string and none is carried from the proposal (so none can be named
  // __proto__): the entry goes as it is, without wireFields' copy.
  return entry as Record<string, string>;
}

/**
 * Compact JSON of at most DEBUG_JSON_MAX characters (the original cut its JSON at 400, which
 * could leave it unparsable; this one is built to fit): thresholds, the heat, and what the
 * decision left out or could not trust, by symbol, with a count of names that did not fit.
 */
export function debugJson(facts: DecisionFacts): string {
  const a = facts.assessment;
  const base: Record<string, unknown> = {
    thresholds: { warm: facts.heatMin, hot: facts.heatMax },
    trace_id: facts.traceId.slice(0, 64),
    source_id: facts.sourceId,
  };
  if (facts.atDecision !== undefined) Object.assign(base, atDecisionJson(facts.atDecision));
  if (a.trusted) {
    base.heat = a.heat;
    base.positions = a.positionsCounted;
    if (a.capped) base.heat_capped = true;
    // A lower bound proving HOT: why the rest is unknown, and what (the first few).
    if (a.lowerBound !== undefined) {
      base.heat_at_least = a.lowerBound.cause;
      base.untrusted = a.lowerBound.untrusted.slice(0, 2).map((u) => `${u.symbol}.${u.field}`.slice(0, 40));
    }
    // Ours (issue #26): each symbol's share of the heat, largest first, as many as leave room for
    // the no_sigma names' count; the rest summed in by_symbol_others (report calibrate reads them).
    Object.assign(base, bySymbol(a.contributions, DEBUG_JSON_MAX - JSON.stringify(base).length - BY_SYMBOL_SPARE));
    if (a.withoutSigma.length === 0) return JSON.stringify(base);
    base.no_sigma_usd = a.withoutSigma.reduce((sum, p) => sum + Math.abs(p.notionalUsd), 0);
    return fitList(
      base,
      'no_sigma',
      a.withoutSigma.map((p) => p.symbol),
    );
  }
  base.fail_closed = a.cause;
  return fitList(
    base,
    'untrusted',
    a.untrusted.map((u) => `${u.symbol}.${u.field}`),
  );
}

/** Room left after the shares for the no_sigma list's key, its count and a few names. */
const BY_SYMBOL_SPARE = 80;

/** Six significant digits: a share of the heat, not an accounting figure. */
const share = (heat: number): number => Number(heat.toPrecision(6));

/**
 * `by_symbol` {symbol: share of the heat}, largest first, as many as fit in `room` characters,
 * and `by_symbol_others`: the sum of those left out.
 */
export function bySymbol(contributions: readonly { readonly symbol: string; readonly heat: number }[], room: number): BySymbol {
  if (contributions.length === 0) return {};
  const ranked = [...contributions].sort((x, y) => y.heat - x.heat || (x.symbol < y.symbol ? -1 : x.symbol > y.symbol ? 1 : 0));
  const named: Record<string, number> = {};
  // `,"by_symbol":{}` and `,"by_symbol_others":N` around the names.
  let left = room - 50;
  let others = 0;
  for (const c of ranked) {
    const cost = JSON.stringify(c.symbol).length + String(share(c.heat)).length + 2;
    if (cost <= left && !Object.hasOwn(named, c.symbol)) {
      named[c.symbol] = share(c.heat);
      left -= cost;
    } else others += c.heat;
  }
  return others > 0 ? { by_symbol: named, by_symbol_others: share(others) } : { by_symbol: named };
}

type BySymbol = { readonly by_symbol?: Readonly<Record<string, number>>; readonly by_symbol_others?: number };

/**
 * The decision's mark and position in debug_json (ours, a JSON the original also only cut to
 * fit): `mark` (null when no fresh price), `mark_source`, `mark_at` (ms), `position_usd` (signed
 * like the book: long +). Inside debug_json rather than as fields, so the decision keeps the
 * original's thirteen fields (docs/migration.md).
 */
function atDecisionJson(at: NonNullable<DecisionFacts['atDecision']>): Record<string, unknown> {
  return {
    mark: at.mark?.price ?? null,
    ...(at.mark === null ? {} : { mark_source: at.mark.source }),
    ...(at.mark?.asOfMs === undefined ? {} : { mark_at: at.mark.asOfMs }),
    ...(at.mark?.ageMs === undefined ? {} : { mark_age_ms: at.mark.ageMs }),
    ...(at.positionUsd === undefined ? {} : { position_usd: at.positionUsd }),
  };
}

/** Adds as many of `names` under `key` as fit, and `${key}_more` for the rest (one pass). */
function fitList(base: Record<string, unknown>, key: string, names: readonly string[]): string {
  // Room for `,"key":[]` and `,"key_more":NNNNN` around the base object.
  let room = DEBUG_JSON_MAX - JSON.stringify(base).length - (key.length * 2 + 20);
  let n = 0;
  for (; n < names.length; n++) {
    const cost = JSON.stringify(names[n]).length + 1;
    if (cost > room) break;
    room -= cost;
  }
  const json = JSON.stringify({ ...base, [key]: names.slice(0, n), ...(n < names.length ? { [`${key}_more`]: names.length - n } : {}) });
  return json.length <= DEBUG_JSON_MAX ? json : JSON.stringify(base).slice(0, DEBUG_JSON_MAX);
}
