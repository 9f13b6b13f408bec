import { lowest } from '../../domain/extent.js';
import type { Outcome } from '../../schemas/outcome.js';
import { blockInterval } from '../../domain/time-blocks.js';
import { verdictsOf, type Verdict } from './verdict.js';

/**
 * The outcomes analysis of seed 001's question ("the PnL impact of downgrades vs original
 * proposals, the drawdown reduction"): outcome samples in, figures out, per horizon, per heat
 * bucket, per symbol and overall. Pure and deterministic (the bootstrap uses a seeded generator),
 * so the live report and the offline replay of a dump give the same figures.
 */

export interface GroupOutcome {
  /** Followed decisions in the group (one sample each at this horizon). */
  decisions: number;
  /** Of which the sample had no price (left out of every sum). */
  missingPrice: number;
  /** Of missingPrice: recorded missing because the horizon had passed when the decision was read (horizon_past). */
  horizonPast: number;
  /** Samples of decisions the follow-up read more than late_bound_sec after they were made (read_late). */
  readLate: number;
  /**
   * Of readLate, priced samples whose entry price the follow-up read then (the deciding gate
   * recorded none): the price may have moved meanwhile, so they are left out of every figure.
   */
  lateEntry: number;
  /** Priced samples taken more than late_bound_sec after their horizon (sample_late): in the figures, counted. */
  sampleLate: number;
  /** Samples the figures rest on: decisions − missingPrice − lateEntry. */
  used: number;
  totalPnlUsd: number;
  medianPnlUsd: number | null;
  /** The worst single outcome (most negative PnL of the difference). */
  worstPnlUsd: number | null;
  /** 90 % interval of the total from a bootstrap over blocks of time (time-blocks.ts); null without enough independent data. */
  interval90: [number, number] | null;
  /** Independent blocks of time the interval rests on. */
  blocks: number;
  /** The interval's warnings in words: no interval, few blocks, one symbol, symbols that move together. */
  warnings: readonly string[];
  /** Largest peak-to-trough fall of the cumulative difference, in decision order (≥ 0). */
  maxDrawdownUsd: number;
  /** Largest trough-to-peak rise of it (≥ 0): what the difference would have protected. */
  maxRunUpUsd: number;
}

export interface HorizonOutcome {
  readonly horizon: string;
  readonly horizonSec: number;
  readonly overall: GroupOutcome;
  readonly byKind: Record<string, GroupOutcome>;
  readonly byBucket: Record<string, GroupOutcome>;
  readonly bySymbol: Record<string, GroupOutcome>;
  /** Per gate, then per kind of decision within it (verdict.ts), over the samples the figures use. */
  readonly verdicts: readonly Verdict[];
}

export interface OutcomesReport {
  readonly samples: number;
  readonly horizons: HorizonOutcome[];
  /**
   * Every gate's decisions together at the longest horizon with priced samples: a summary, not an
   * answer to "enforce or not" (each horizon's `verdicts` answer it per gate and kind).
   */
  readonly verdict: string;
}

const round2 = (v: number) => Math.round(v * 100) / 100;

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Largest fall and rise of the running sum of `values` (in the order given), both ≥ 0. */
export function drawdownAndRunUp(values: readonly number[]): { drawdown: number; runUp: number } {
  let sum = 0;
  let peak = 0;
  let trough = 0;
  let drawdown = 0;
  let runUp = 0;
  for (const v of values) {
    sum += v;
    peak = Math.max(peak, sum);
    trough = Math.min(trough, sum);
    drawdown = Math.max(drawdown, peak - sum);
    runUp = Math.max(runUp, sum - trough);
  }
  return { drawdown: round2(drawdown), runUp: round2(runUp) };
}

/** A priced sample whose entry price was read late by the follow-up: its PnL is not the decision's. */
export function entryReadLate(s: Outcome): boolean {
  return s.pnl_usd !== undefined && s.read_late === true && s.entry_source === 'follow_up';
}

function group(samples: readonly Outcome[]): GroupOutcome {
  const ordered = [...samples].sort((a, b) => a.decided_at - b.decided_at || a.decision_id.localeCompare(b.decision_id));
  const used = ordered.filter((s) => s.pnl_usd !== undefined && !entryReadLate(s));
  const priced = used.map((s) => s.pnl_usd!);
  const block = blockInterval(
    used.map((s) => ({ at: s.decided_at, horizonMs: s.horizon_sec * 1000, symbol: s.symbol, pnlUsd: s.pnl_usd! })),
  );
  const { drawdown, runUp } = drawdownAndRunUp(priced);
  const count = (test: (s: Outcome) => boolean) => samples.filter(test).length;
  return {
    decisions: samples.length,
    missingPrice: count((s) => s.pnl_usd === undefined),
    horizonPast: count((s) => s.pnl_usd === undefined && s.missing_reason === 'horizon_past'),
    readLate: count((s) => s.read_late === true),
    lateEntry: count(entryReadLate),
    sampleLate: count((s) => s.pnl_usd !== undefined && s.sample_late === true),
    used: priced.length,
    totalPnlUsd: round2(priced.reduce((a, b) => a + b, 0)),
    medianPnlUsd: priced.length === 0 ? null : round2(median(priced)!),
    worstPnlUsd: priced.length === 0 ? null : round2(lowest(priced)),
    interval90: block.interval90,
    blocks: block.blocks,
    warnings: block.warnings,
    maxDrawdownUsd: drawdown,
    maxRunUpUsd: runUp,
  };
}

function groupBy(samples: readonly Outcome[], key: (s: Outcome) => string): Record<string, GroupOutcome> {
  const groups = new Map<string, Outcome[]>();
  for (const s of samples) {
    const k = key(s) || '(none)';
    const list = groups.get(k) ?? [];
    list.push(s);
    groups.set(k, list);
  }
  return Object.fromEntries([...groups.keys()].sort().map((k) => [k, group(groups.get(k)!)]));
}

const money = (v: number) => `${v < 0 ? '−' : ''}$${Math.abs(v).toLocaleString('en-US', { maximumFractionDigits: 0 })}`;

/** Aggregates outcome samples; a decision sampled twice at one horizon counts once (the first). */
export function aggregateOutcomes(samples: readonly Outcome[]): OutcomesReport {
  const unique = new Map<string, Outcome>();
  for (const s of samples) {
    const k = `${s.decision_id}|${s.horizon}`;
    if (!unique.has(k)) unique.set(k, s);
  }
  const byHorizon = new Map<string, Outcome[]>();
  for (const s of unique.values()) byHorizon.set(s.horizon, [...(byHorizon.get(s.horizon) ?? []), s]);
  const horizons = [...byHorizon.entries()]
    .map(([horizon, list]): HorizonOutcome => ({
      horizon,
      horizonSec: list[0]!.horizon_sec,
      overall: group(list),
      byKind: groupBy(list, (s) => s.kind),
      byBucket: groupBy(list, (s) => s.bucket),
      bySymbol: groupBy(list, (s) => s.symbol),
      verdicts: verdictsOf(
        horizon,
        list.filter((s) => s.pnl_usd !== undefined && !entryReadLate(s)),
      ),
    }))
    .sort((a, b) => a.horizonSec - b.horizonSec);
  return { samples: unique.size, horizons, verdict: verdictOf(horizons) };
}

function verdictOf(horizons: readonly HorizonOutcome[]): string {
  const last = [...horizons].reverse().find((h) => h.overall.used > 0);
  if (!last) return 'no priced outcome yet: nothing to say about enforce.';
  const o = last.overall;
  const priced = o.used;
  const parts = Object.entries(last.byKind).map(
    ([kind, g]) => `${g.used} ${kind === 'heat_downgrade' ? 'downgrades' : kind === 'governor_block' ? 'blocked opens' : kind}`,
  );
  const uncertainty =
    o.interval90 === null
      ? ''
      : ` ± ${money(round2((o.interval90[1] - o.interval90[0]) / 2))} (90 % interval ${money(o.interval90[0])} to ${money(o.interval90[1])}, resampled over ${o.blocks} blocks of time)`;
  return (
    `over ${priced} decisions (${parts.join(', ')}), at ${last.horizon} the decisions changed PnL by ${money(o.totalPnlUsd)}${uncertainty} ` +
    `against the proposals; the difference's worst drawdown ${money(o.maxDrawdownUsd)}, ` +
    `its largest run-up ${money(o.maxRunUpUsd)}${o.warnings.length > 0 ? `; ${o.warnings.join('; ')}` : ''}${leftOut(o)}.`
  );
}

/** What the figures do not rest on, and what they rest on with a caveat: part of the uncertainty. */
function leftOut(o: GroupOutcome): string {
  const parts: string[] = [];
  if (o.missingPrice > 0)
    parts.push(
      `${o.missingPrice} samples without a price left out${o.horizonPast > 0 ? ` (${o.horizonPast} read after their horizon had passed)` : ''}`,
    );
  if (o.lateEntry > 0) parts.push(`${o.lateEntry} samples whose entry price was read late left out`);
  if (o.sampleLate > 0) parts.push(`${o.sampleLate} samples taken late (after their horizon) included`);
  if (o.readLate > o.lateEntry) parts.push(`${o.readLate - o.lateEntry} decisions read late, priced at their recorded mark`);
  if (parts.length === 0) return '';
  return `; ${parts.join('; ')} (figures rest on ${o.used} of ${o.decisions} samples)`;
}
