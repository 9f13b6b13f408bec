import { bucketOf } from '../../domain/heat.js';
import { calibrationWarning, nearestRank } from '../../domain/heat-calibration.js';
import { calibrate, FULL_CLOSES } from '../../handlers/heat-gate/calibrate.js';
import type { ApplyLayerEra } from '../../handlers/heat-gate/apply-layer-era.js';
import { closedFraction } from '../../handlers/outcomes/pnl.js';
import { parseNumber } from '../../schemas/fields.js';
import type { HeatBucket } from '../../schemas/heat-gate.js';
import type { Outcome } from '../../schemas/outcome.js';
import { PnlCollector, decisionTime, type Mismatch, type Reproduction, type WhatIfPnl } from './calibrate-common.js';

/**
 * `report calibrate`, the heat gate's half: the heat as it really was over a window, and what
 * other HEAT_MIN/HEAT_MAX would have done to the recorded full closes. The decision is made again
 * by the gate's own rule (handlers/heat-gate/calibrate.ts `calibrate`, domain/heat.ts `bucketOf`:
 * the functions the handler calls), over the heat each decision recorded. Pure: records in,
 * figures out.
 */

/** One heat decision as recorded in quantum:stream:harvest.heat.decision. */
export interface HeatDecisionRecord {
  readonly id: string;
  /** ms: when the gate decided (decided_at_ms, else ts_epoch: its clock), else the entry id's time. */
  readonly at: number;
  readonly symbol: string;
  readonly planId: string;
  readonly inAction: string;
  readonly outAction: string;
  readonly mode: string;
  /** The heat the decision was made on; undefined when it was not trusted (fail-closed: COLD). */
  readonly heat: number | undefined;
  /** Each symbol's share of it: heat_by_symbol, every symbol; before it existed debug_json.by_symbol, the rest under "(others)". */
  readonly bySymbol: Readonly<Record<string, number>>;
}

const OTHERS = '(others)';

/**
 * Reads a decision entry's fields. The heat is debug_json's full-precision `heat` (heat_score is
 * rounded to 4 places, too coarse for heats of 0.0006); heat_score for a decision without it.
 */
export function heatDecisionRecord(id: string, fields: Readonly<Record<string, string>>): HeatDecisionRecord | undefined {
  const { symbol, in_action: inAction, out_action: outAction } = fields;
  if (!symbol || !inAction || !outAction) return undefined;
  let debug: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(fields.debug_json ?? '{}');
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) debug = parsed as Record<string, unknown>;
  } catch {
    // an older or foreign producer's debug text: no breakdown
  }
  // A heat that is only a lower bound (heat_lower_bound: it proved HOT) is no distribution figure either.
  const trusted =
    fields.heat_level !== 'unknown' &&
    fields.fail_closed_cause === undefined &&
    fields.heat_lower_bound === undefined &&
    debug.fail_closed === undefined;
  const heat = !trusted ? undefined : typeof debug.heat === 'number' ? debug.heat : parseNumber(fields.heat_score);
  const bySymbol: Record<string, number> = {};
  const recordedShares = trusted ? sharesOf(fields.heat_by_symbol) : undefined;
  if (recordedShares !== undefined) Object.assign(bySymbol, recordedShares);
  else if (trusted && debug.by_symbol !== null && typeof debug.by_symbol === 'object') {
    // A decision recorded before heat_by_symbol: debug_json's largest shares, the rest under "(others)".
    for (const [name, value] of Object.entries(debug.by_symbol as Record<string, unknown>))
      if (typeof value === 'number') bySymbol[name] = value;
    if (typeof debug.by_symbol_others === 'number') bySymbol[OTHERS] = debug.by_symbol_others;
  }
  return {
    id,
    at: decisionTimeMs(fields.decided_at_ms) ?? decisionTime(fields.ts_epoch, id),
    symbol,
    planId: fields.plan_id ?? '',
    inAction,
    outAction,
    mode: fields.mode ?? '',
    heat,
    bySymbol,
  };
}

/** heat_by_symbol's {symbol: share}, or undefined when absent or not such an object. */
function sharesOf(text: string | undefined): Record<string, number> | undefined {
  if (text === undefined || text === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) if (typeof value === 'number') out[name] = value;
  return out;
}

/** decided_at_ms, the gate's own time of the decision in ms, when recorded. */
function decisionTimeMs(text: string | undefined): number | undefined {
  const ms = parseNumber(text);
  return ms !== undefined && ms > 0 ? ms : undefined;
}

export interface Thresholds {
  readonly min: number;
  readonly max: number;
}

// ---------------------------------------------------------------- the distribution

export interface HeatDistribution {
  /** Decisions in the window, and those without a trusted heat (left out of the figures). */
  readonly decisions: number;
  readonly untrusted: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  /** Nearest-rank percentiles of the decisions' heat: p of n is the ⌈p·n⌉-th smallest. */
  readonly percentiles: Readonly<Record<'p5' | 'p25' | 'p50' | 'p75' | 'p95', number | null>>;
  /**
   * Milliseconds spent in each bucket of the configured thresholds: each decision's heat holds
   * until the next decision or its own validity (P26_HEAT_REFRESH_MS, how long the gate keeps a
   * heat before computing it again), whichever is sooner; the last one's until the end of the
   * traffic (the last decision of either gate in the window) or its validity, whichever is later,
   * never past the window's end. `UNKNOWN` while the decision had no trusted heat. Time before
   * the first decision is not known, so not counted.
   */
  readonly msInBucket: Readonly<Record<HeatBucket | 'UNKNOWN', number>>;
  /** Milliseconds between a reading's validity and the next decision: a pause, in no bucket. */
  readonly msWithoutReading: number;
  /** Per symbol: its mean share of the heat over the trusted decisions, and its largest. */
  readonly bySymbol: readonly {
    readonly symbol: string;
    readonly meanHeat: number;
    readonly maxHeat: number;
    readonly shareOfHeat: number;
  }[];
  /** Set when no decision's heat came within a factor of 10 of either threshold. */
  readonly calibrationWarning: string | null;
}

/** Where the last reading's time ends: the traffic's end (ms) and how long a reading stays valid (ms). */
export interface ReadingEnd {
  readonly trafficEnd: number;
  readonly validityMs: number;
}

/** The default validity: P26_HEAT_REFRESH_MS's default, the gate's own interval between heats. */
export const DEFAULT_HEAT_VALIDITY_MS = 10_000;

export function heatDistribution(
  records: readonly HeatDecisionRecord[],
  t: Thresholds,
  windowEnd: number,
  end: ReadingEnd = { trafficEnd: -Infinity, validityMs: DEFAULT_HEAT_VALIDITY_MS },
): HeatDistribution {
  const ordered = [...records].sort((a, b) => a.at - b.at || a.id.localeCompare(b.id));
  const heats = ordered.flatMap((r) => (r.heat === undefined ? [] : [r.heat]));
  const sorted = [...heats].sort((a, b) => a - b);
  const ms: Record<HeatBucket | 'UNKNOWN', number> = { COLD: 0, WARM: 0, HOT: 0, UNKNOWN: 0 };
  let withoutReading = 0;
  for (let i = 0; i < ordered.length; i++) {
    const r = ordered[i]!;
    const lastUntil = Math.min(windowEnd, Math.max(end.trafficEnd, r.at + end.validityMs));
    const next = ordered[i + 1]?.at;
    const until = next === undefined ? Math.max(r.at, lastUntil) : Math.min(next, r.at + end.validityMs);
    if (next !== undefined) withoutReading += next - until;
    const bucket = r.heat === undefined ? 'UNKNOWN' : bucketOf(r.heat, t.min, t.max);
    ms[bucket] += until - r.at;
  }
  const sums = new Map<string, { total: number; max: number }>();
  for (const r of ordered) {
    if (r.heat === undefined) continue;
    for (const [symbol, h] of Object.entries(r.bySymbol)) {
      const s = sums.get(symbol) ?? { total: 0, max: 0 };
      s.total += h;
      s.max = Math.max(s.max, h);
      sums.set(symbol, s);
    }
  }
  const heatTotal = heats.reduce((a, b) => a + b, 0);
  const bySymbol = [...sums.entries()]
    .map(([symbol, s]) => ({
      symbol,
      meanHeat: s.total / heats.length,
      maxHeat: s.max,
      shareOfHeat: heatTotal > 0 ? s.total / heatTotal : 0,
    }))
    .sort((a, b) => b.meanHeat - a.meanHeat || a.symbol.localeCompare(b.symbol));
  return {
    decisions: ordered.length,
    untrusted: ordered.length - heats.length,
    min: sorted[0] ?? null,
    max: sorted[sorted.length - 1] ?? null,
    mean: heats.length === 0 ? null : heatTotal / heats.length,
    percentiles: {
      p5: nearestRank(sorted, 0.05),
      p25: nearestRank(sorted, 0.25),
      p50: nearestRank(sorted, 0.5),
      p75: nearestRank(sorted, 0.75),
      p95: nearestRank(sorted, 0.95),
    },
    msInBucket: ms,
    msWithoutReading: withoutReading,
    bySymbol,
    calibrationWarning: calibrationWarning(heats, t),
  };
}

// ---------------------------------------------------------------- the what-if

export interface HeatWhatIf {
  readonly heatMin: number;
  readonly heatMax: number;
  /** The configured pair. */
  readonly configured: boolean;
  readonly fullCloses: number;
  readonly downgraded: number;
  /** Calibrated action → count. */
  readonly downgradedTo: Readonly<Record<string, number>>;
  /** Full closes whose calibrated action differs from the recorded one. */
  readonly changedFromRecorded: number;
  /** One per horizon of the outcome samples, shortest first. */
  readonly pnl: readonly WhatIfPnl[];
}

/** The share of the position the calibration keeps open that the proposal would have closed. */
export function keptShare(proposed: string, calibrated: string): number {
  const wanted = closedFraction(proposed);
  const done = closedFraction(calibrated);
  return wanted === undefined || done === undefined || done >= wanted ? 0 : wanted - done;
}

/** The outcome samples of heat decisions, by decision entry id and horizon. */
export function heatSamplesById(samples: readonly Outcome[]): Map<string, Map<string, Outcome>> {
  const out = new Map<string, Map<string, Outcome>>();
  for (const s of samples) {
    if (s.kind !== 'heat_downgrade' || !s.decision_id.startsWith('heat:')) continue;
    const id = s.decision_id.slice('heat:'.length);
    const byHorizon = out.get(id) ?? new Map<string, Outcome>();
    if (!byHorizon.has(s.horizon)) byHorizon.set(s.horizon, s);
    out.set(id, byHorizon);
  }
  return out;
}

/**
 * What HEAT_MIN/HEAT_MAX = `t` would have done to every recorded full close: the gate's rule
 * decides again over the recorded heat (a decision without a trusted heat stays fail-closed,
 * COLD, whatever the thresholds). The PnL of a downgrade comes from the recorded decision's own
 * samples: the difference between PARTIAL_25, PARTIAL_75 and FULL_CLOSE is linear in the share
 * kept, so a sample of the recorded downgrade, scaled by kept share (alternative / recorded),
 * prices the alternative. A downgrade the record has no sample for stays unpriced, never 0.
 */
export function heatWhatIf(
  records: readonly HeatDecisionRecord[],
  samples: ReadonlyMap<string, ReadonlyMap<string, Outcome>>,
  horizons: readonly string[],
  t: Thresholds,
  era: ApplyLayerEra,
  configured: Thresholds,
): HeatWhatIf {
  const downgradedTo: Record<string, number> = {};
  let fullCloses = 0;
  let downgraded = 0;
  let changed = 0;
  const collectors = horizons.map((h) => new PnlCollector(h));
  for (const r of records) {
    if (!FULL_CLOSES.has(r.inAction)) continue;
    fullCloses += 1;
    const bucket: HeatBucket = r.heat === undefined ? 'COLD' : bucketOf(r.heat, t.min, t.max);
    const calibration = calibrate(r.inAction, bucket, era);
    if (calibration.calibratedAction !== r.outAction) changed += 1;
    if (!calibration.downgraded) continue;
    downgraded += 1;
    downgradedTo[calibration.calibratedAction] = (downgradedTo[calibration.calibratedAction] ?? 0) + 1;
    const kept = keptShare(r.inAction, calibration.calibratedAction);
    const recordedKept = keptShare(r.inAction, r.outAction);
    const own = samples.get(r.id);
    horizons.forEach((horizon, i) => {
      const collector = collectors[i]!;
      if (kept === 0) return collector.priced(r.at, r.symbol, 0, 0, 0);
      const sample = own?.get(horizon);
      if (sample === undefined || recordedKept === 0) return collector.noSample();
      if (sample.pnl_usd === undefined) return collector.missingPrice();
      const scale = kept / recordedKept;
      collector.priced(
        r.at,
        r.symbol,
        sample.pnl_usd * scale,
        sample.worst_pnl_usd === undefined ? undefined : sample.worst_pnl_usd * scale,
        sample.exposure_usd * scale,
      );
    });
  }
  return {
    heatMin: t.min,
    heatMax: t.max,
    configured: t.min === configured.min && t.max === configured.max,
    fullCloses,
    downgraded,
    downgradedTo,
    changedFromRecorded: changed,
    pnl: collectors.map((c) => c.result()),
  };
}

/** Item 4: the configured thresholds, through the gate's own rule, give every recorded out_action. */
export function reproduceHeat(records: readonly HeatDecisionRecord[], t: Thresholds, era: ApplyLayerEra): Reproduction {
  const mismatches: Mismatch[] = [];
  for (const r of records) {
    const bucket: HeatBucket = r.heat === undefined ? 'COLD' : bucketOf(r.heat, t.min, t.max);
    const recomputed = calibrate(r.inAction, bucket, era).calibratedAction;
    if (recomputed !== r.outAction) mismatches.push({ id: r.id, recorded: r.outAction, recomputed });
  }
  return { checked: records.length, reproduced: records.length - mismatches.length, mismatches: mismatches.slice(0, 20) };
}

/** "0.25:0.65,0.001:0.01" → pairs; throws with the reason. */
export function parseHeatGrid(text: string): Thresholds[] {
  return text.split(',').map((part) => {
    const match = /^\s*([0-9]*\.?[0-9]+(?:e-?\d+)?)\s*:\s*([0-9]*\.?[0-9]+(?:e-?\d+)?)\s*$/i.exec(part);
    if (!match) throw new Error(`"${part.trim()}" is not HEAT_MIN:HEAT_MAX (such as 0.25:0.65)`);
    const min = Number(match[1]);
    const max = Number(match[2]);
    if (!(min < max)) throw new Error(`"${part.trim()}": HEAT_MIN must be below HEAT_MAX`);
    return { min, max };
  });
}
