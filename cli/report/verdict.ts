import type { Outcome } from '../../schemas/outcome.js';
import { blockInterval } from '../../domain/time-blocks.js';

/**
 * "Enforce or not", one gate and one kind of decision at a time: the total PnL of the decisions
 * against their proposals, per unit of the exposure they changed (bps) and how often they did
 * better (hit rate), with a 90 % interval from a bootstrap over contiguous stretches of time, all
 * symbols together (time-blocks.ts), and warnings in words. Without enough independent data there
 * is no interval and no "better" or "worse". Pure and deterministic (a seeded generator).
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
  /** Moving-block bootstrap 90 % interval of the total; null without enough independent data. */
  readonly interval90: [number, number] | null;
  /** What the interval rests on: independent blocks of time, each `binsPerBlock` bins of `binMs`. */
  readonly blocks: { readonly count: number; readonly binMs: number; readonly binsPerBlock: number };
  readonly symbols: number;
  /** Mean correlation between symbols of their PnL per bin; null when it cannot be measured. */
  readonly crossSymbolCorrelation: number | null;
  /** `better`, `worse`, `cannot tell` (the interval straddles zero) or `not enough independent data` (no interval). */
  readonly conclusion: 'better' | 'worse' | 'cannot tell' | 'not enough independent data';
  readonly warnings: readonly string[];
  /** The verdict in words. */
  readonly text: string;
}

/** Below this many decisions the figures are called a small sample. */
export const SMALL_SAMPLE = 30;

const round2 = (v: number) => Math.round(v * 100) / 100;

const money = (v: number) =>
  `${v < 0 ? '−' : ''}$${Math.abs(v).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

const SAID = {
  better: 'did better than the proposals',
  worse: 'did worse than the proposals',
  'cannot tell': 'cannot be told apart from the proposals',
  'not enough independent data': 'cannot be judged yet (not enough independent data)',
} as const;

export function verdictOf(gate: string, kind: string, horizon: string, samples: readonly VerdictSample[]): Verdict | undefined {
  if (samples.length === 0) return undefined;
  const values = samples.map((s) => s.pnlUsd);
  const total = values.reduce((a, b) => a + b, 0);
  const exposure = samples.reduce((sum, s) => sum + Math.abs(s.exposureUsd), 0);
  const block = blockInterval(samples.map((s) => ({ at: s.decidedAt, horizonMs: s.horizonMs, symbol: s.symbol, pnlUsd: s.pnlUsd })));
  const interval = block.interval90;
  const conclusion =
    interval === null ? 'not enough independent data' : interval[0] > 0 ? 'better' : interval[1] < 0 ? 'worse' : 'cannot tell';
  const warnings: string[] = [];
  if (samples.length < SMALL_SAMPLE) warnings.push(`only ${samples.length} decisions: a small sample, read the figures as a first look`);
  warnings.push(...block.warnings);
  if (conclusion === 'cannot tell')
    warnings.push('the interval straddles zero: the record cannot tell whether these decisions help or hurt');
  const bps = exposure > 0 ? Math.round((total / exposure) * 10_000 * 10) / 10 : null;
  const hits = values.filter((v) => v > 0).length / values.length;
  const what = kind === 'all' ? gate : `${gate}, ${kind}`;
  const range =
    interval === null
      ? 'no interval'
      : `90 % interval ${money(interval[0])} to ${money(interval[1])}, resampled over ${block.blocks} blocks of time`;
  const text =
    `${what} at ${horizon}: ${samples.length} decisions ${SAID[conclusion]}: ${money(round2(total))} (${range}), ` +
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
    blocks: { count: block.blocks, binMs: block.binMs, binsPerBlock: block.binsPerBlock },
    symbols: block.symbols,
    crossSymbolCorrelation: block.crossSymbolCorrelation,
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
