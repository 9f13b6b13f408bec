import type { Outcome } from '../../schemas/outcome.js';
import { seeded } from './seeded-random.js';

/**
 * "Enforce or not", one gate and one kind of decision at a time (issue #40 item 4): the total PnL
 * of the decisions against their proposals, per unit of the exposure they changed (bps) and how
 * often they did better (hit rate), with a 90 % interval from a bootstrap that resamples groups
 * of decisions that move together, and warnings in words when the sample is small or the interval
 * straddles zero. Pure and deterministic (a seeded generator).
 */

export interface VerdictSample {
  readonly decisionId: string;
  readonly symbol: string;
  /** ms */
  readonly decidedAt: number;
  /** ms */
  readonly horizonMs: number;
  readonly exposureUsd: number;
  readonly pnlUsd: number;
}

export interface Verdict {
  /** `heat gate` or `governor`. */
  readonly gate: string;
  /** `all`, or one kind of decision: `FULL_CLOSE → PARTIAL_25`, `blocked opens`. */
  readonly kind: string;
  readonly horizon: string;
  /** Priced samples the figures rest on. */
  readonly decisions: number;
  readonly totalPnlUsd: number;
  /** Total PnL over the sum of |exposure| changed, in basis points; null when no exposure. */
  readonly pnlBps: number | null;
  /** Share of the decisions whose difference made money (PnL > 0). */
  readonly hitRate: number;
  /** Bootstrap 90 % interval of the total, over the wider of the two groupings below. */
  readonly interval90: [number, number];
  /** The grouping whose interval is reported: `symbol` or `overlap`. */
  readonly intervalBy: 'symbol' | 'overlap';
  /** Independent groups: symbols, and runs of decisions whose horizons overlap (any symbol). */
  readonly clusters: { readonly symbols: number; readonly overlapping: number };
  /** `better`, `worse` or `cannot tell` (the interval straddles zero). */
  readonly conclusion: 'better' | 'worse' | 'cannot tell';
  readonly warnings: readonly string[];
  /** The verdict in words. */
  readonly text: string;
}

/** Below this many decisions the figures are called a small sample. */
export const SMALL_SAMPLE = 30;
/** Below this many independent groups the interval is called unreliable. */
export const FEW_CLUSTERS = 10;
const RESAMPLES = 2000;

const round2 = (v: number) => Math.round(v * 100) / 100;

/** Each sample's group when grouped by symbol. */
export function symbolClusters(samples: readonly VerdictSample[]): number[][] {
  const by = new Map<string, number[]>();
  samples.forEach((s, i) => by.set(s.symbol, [...(by.get(s.symbol) ?? []), i]));
  return [...by.values()];
}

/**
 * Runs of decisions whose horizons overlap, whatever their symbol (a decision made before the
 * previous one's horizon ended joins its run): they are marked against the same stretch of the
 * market, so their outcomes are not independent.
 */
export function overlapClusters(samples: readonly VerdictSample[]): number[][] {
  const order = samples.map((_, i) => i).sort((a, b) => samples[a]!.decidedAt - samples[b]!.decidedAt || a - b);
  const out: number[][] = [];
  let end = -Infinity;
  for (const i of order) {
    const s = samples[i]!;
    if (out.length === 0 || s.decidedAt >= end) out.push([]);
    out[out.length - 1]!.push(i);
    end = Math.max(end, s.decidedAt + s.horizonMs);
  }
  return out;
}

/** 5th and 95th percentile of the total when whole groups are resampled with replacement. */
export function clusteredInterval(values: readonly number[], clusters: readonly (readonly number[])[], seed = 1): [number, number] {
  const totals = clusters.map((c) => c.reduce((sum, i) => sum + values[i]!, 0));
  const random = seeded(seed);
  const resampled: number[] = [];
  for (let b = 0; b < RESAMPLES; b++) {
    let total = 0;
    for (let i = 0; i < totals.length; i++) total += totals[Math.floor(random() * totals.length)]!;
    resampled.push(total);
  }
  resampled.sort((a, b) => a - b);
  const at = (q: number) => resampled[Math.min(resampled.length - 1, Math.max(0, Math.round(q * (resampled.length - 1))))]!;
  return [round2(at(0.05)), round2(at(0.95))];
}

const money = (v: number) =>
  `${v < 0 ? '−' : ''}$${Math.abs(v).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export function verdictOf(gate: string, kind: string, horizon: string, samples: readonly VerdictSample[]): Verdict | undefined {
  if (samples.length === 0) return undefined;
  const values = samples.map((s) => s.pnlUsd);
  const total = values.reduce((a, b) => a + b, 0);
  const exposure = samples.reduce((sum, s) => sum + Math.abs(s.exposureUsd), 0);
  const bySymbol = symbolClusters(samples);
  const byOverlap = overlapClusters(samples);
  const a = clusteredInterval(values, bySymbol);
  const b = clusteredInterval(values, byOverlap);
  const [interval, intervalBy] = b[1] - b[0] > a[1] - a[0] ? ([b, 'overlap'] as const) : ([a, 'symbol'] as const);
  const conclusion = interval[0] > 0 ? 'better' : interval[1] < 0 ? 'worse' : 'cannot tell';
  const warnings: string[] = [];
  if (samples.length < SMALL_SAMPLE) warnings.push(`only ${samples.length} decisions: a small sample, read the figures as a first look`);
  const groups = Math.min(bySymbol.length, byOverlap.length);
  if (groups < FEW_CLUSTERS)
    warnings.push(
      `only ${groups} independent ${groups === bySymbol.length ? 'symbols' : 'runs of overlapping decisions'}: the interval is too narrow to trust`,
    );
  if (conclusion === 'cannot tell')
    warnings.push('the interval straddles zero: the record cannot tell whether these decisions help or hurt');
  const bps = exposure > 0 ? Math.round((total / exposure) * 10_000 * 10) / 10 : null;
  const hits = values.filter((v) => v > 0).length / values.length;
  const what = kind === 'all' ? gate : `${gate}, ${kind}`;
  const said =
    conclusion === 'better'
      ? 'did better than the proposals'
      : conclusion === 'worse'
        ? 'did worse than the proposals'
        : 'cannot be told apart from the proposals';
  const text =
    `${what} at ${horizon}: ${samples.length} decisions ${said}: ${money(round2(total))} ` +
    `(90 % interval ${money(interval[0])} to ${money(interval[1])}, resampled by ${intervalBy === 'symbol' ? 'symbol' : 'runs of overlapping decisions'}), ` +
    `${bps === null ? 'no exposure' : `${bps} bps of the exposure changed`}, ${Math.round(hits * 100)} % made money` +
    (warnings.length > 0 ? `; ${warnings.join('; ')}` : '');
  return {
    gate,
    kind,
    horizon,
    decisions: samples.length,
    totalPnlUsd: round2(total),
    pnlBps: bps,
    hitRate: hits,
    interval90: interval,
    intervalBy,
    clusters: { symbols: bySymbol.length, overlapping: byOverlap.length },
    conclusion,
    warnings,
    text,
  };
}

/** The gate of an outcome's kind. */
const gateOf = (kind: string): string | undefined =>
  kind === 'heat_downgrade' ? 'heat gate' : kind === 'governor_block' ? 'governor' : undefined;

/** The kind of decision within its gate: a downgrade's transition, or `blocked opens`. */
const kindOf = (s: Outcome): string => (s.kind === 'heat_downgrade' ? `${s.proposed_action} → ${s.decided_action}` : 'blocked opens');

/**
 * The verdicts of one horizon's samples (those the figures use): per gate, then per kind within
 * it when it has more than one.
 */
export function verdictsOf(horizon: string, used: readonly Outcome[]): Verdict[] {
  const out: Verdict[] = [];
  for (const gate of ['heat gate', 'governor']) {
    const mine = used.filter((s) => gateOf(s.kind) === gate && s.pnl_usd !== undefined);
    const toSample = (s: Outcome): VerdictSample => ({
      decisionId: s.decision_id,
      symbol: s.symbol,
      decidedAt: s.decided_at,
      horizonMs: s.horizon_sec * 1000,
      exposureUsd: s.exposure_usd,
      pnlUsd: s.pnl_usd!,
    });
    const all = verdictOf(gate, 'all', horizon, mine.map(toSample));
    if (all === undefined) continue;
    out.push(all);
    const kinds = [...new Set(mine.map(kindOf))].sort();
    if (kinds.length > 1)
      for (const kind of kinds) out.push(verdictOf(gate, kind, horizon, mine.filter((s) => kindOf(s) === kind).map(toSample))!);
  }
  return out;
}
