import { seeded } from '../../domain/seeded-random.js';
import { FULL_CLOSES } from '../../handlers/heat-gate/calibrate.js';
import type { HeatDecisionRecord, Thresholds } from './calibrate-heat.js';

/**
 * Threshold pairs proposed from the record (issue #40 item 5): HEAT_MIN and HEAT_MAX placed in the
 * observed heat of the full closes, so that a stated share of them would have been COLD, WARM and
 * HOT. The report then decides every recorded full close again under each pair and prices it, as
 * for any other pair: the proposal says where the thresholds would sit on the data's own scale;
 * the what-if beside it says what that would have done and earned. Pure.
 */

/** The shares each proposal aims at, COLD then HOT (WARM is the rest). */
export const PROPOSAL_SHARES: readonly { readonly cold: number; readonly hot: number }[] = [
  { cold: 0.5, hot: 0.1 },
  { cold: 0.25, hot: 0.25 },
  { cold: 0.75, hot: 0.05 },
];

export interface HeatProposal extends Thresholds {
  /** In words: "COLD 50 % / WARM 40 % / HOT 10 % of N full closes". */
  readonly rule: string;
  /**
   * How far each threshold moves when the same rule is applied to half of the full closes, drawn
   * at random (HALVES times, seeded): the 5th and 95th percentiles of the halves' HEAT_MIN and
   * HEAT_MAX, at two significant digits. A proposal is no surer than this.
   */
  readonly spread: { readonly min: readonly [number, number]; readonly max: readonly [number, number] };
  readonly aimed: { readonly cold: number; readonly warm: number; readonly hot: number };
}

/** Most significant digits a proposed threshold is given with: the data cannot tell a fourth. */
const MAX_DIGITS = 3;
/** Random halves the spread is measured over. */
const HALVES = 200;

/**
 * A threshold with exactly `k` of `sorted` (ascending) strictly below it: halfway between the
 * k-th and the (k+1)-th heat, at the fewest significant digits (up to three) that keep it
 * between them (a setting one can type); below the smallest heat when k = 0 and above the
 * largest when k = n. Heats closer together than three digits tell apart get the midpoint at
 * three digits: the what-if then counts what that threshold really decides.
 */
export function cutAt(sorted: readonly number[], k: number): number {
  const lo = k === 0 ? 0 : sorted[k - 1]!;
  const hi = k >= sorted.length ? sorted[sorted.length - 1]! * 2 : sorted[k]!;
  const mid = hi > lo ? (lo + hi) / 2 : hi;
  for (let digits = 1; digits <= MAX_DIGITS; digits++) {
    const typed = Number(mid.toPrecision(digits));
    if (typed > lo && typed <= hi) return typed;
  }
  return Number(mid.toPrecision(MAX_DIGITS));
}

const twoDigits = (v: number) => Number(v.toPrecision(2));

/** The 5th and 95th percentiles of the cut at `share` over random halves of `sorted`. */
function spreadOverHalves(sorted: readonly number[], share: number, fromTop: boolean, seed: number): [number, number] {
  const random = seeded(seed);
  const half = Math.floor(sorted.length / 2);
  const cuts: number[] = [];
  for (let b = 0; b < HALVES; b++) {
    // A partial Fisher–Yates shuffle: the first `half` of a random permutation.
    const pool = [...sorted];
    for (let i = 0; i < half; i++) {
      const j = i + Math.floor(random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    const drawn = pool.slice(0, half).sort((a, b) => a - b);
    const k = fromTop ? half - Math.round(share * half) : Math.round(share * half);
    cuts.push(cutAt(drawn, k));
  }
  cuts.sort((a, b) => a - b);
  return [twoDigits(cuts[Math.round(0.05 * (HALVES - 1))]!), twoDigits(cuts[Math.round(0.95 * (HALVES - 1))]!)];
}

/** Below this many full closes with a heat nothing is proposed. */
export const MIN_FULL_CLOSES = 4;

/** The heat of the recorded full closes with a trusted heat, ascending. */
function heatsOfFullCloses(records: readonly HeatDecisionRecord[]): number[] {
  return records
    .filter((r) => FULL_CLOSES.has(r.inAction) && r.heat !== undefined && r.heat > 0)
    .map((r) => r.heat!)
    .sort((a, b) => a - b);
}

/** Why proposeHeatThresholds proposed nothing, in words. */
export function noProposalReason(records: readonly HeatDecisionRecord[]): string {
  const sorted = heatsOfFullCloses(records);
  if (sorted.length < MIN_FULL_CLOSES)
    return `${sorted.length} full ${sorted.length === 1 ? 'close' : 'closes'} with a heat in the window, fewer than ${MIN_FULL_CLOSES}`;
  const distinct = new Set(sorted).size;
  return `the ${sorted.length} full closes with a heat have ${distinct === 1 ? 'one heat' : `only ${distinct} distinct heats`}: no pair of thresholds splits them in the stated shares`;
}

/**
 * The proposals over the heat of the recorded full closes with a trusted heat (a fail-closed one
 * is COLD whatever the thresholds): HEAT_MIN with round(cold × n) heats below it, HEAT_MAX with
 * round(hot × n) at or above it. Ties make the shares come out differently; the what-if counts
 * what each pair really decides. None when fewer than MIN_FULL_CLOSES full closes have a heat, or
 * when their heats are too few apart for two thresholds (noProposalReason says which).
 */
export function proposeHeatThresholds(records: readonly HeatDecisionRecord[]): HeatProposal[] {
  const sorted = heatsOfFullCloses(records);
  const n = sorted.length;
  if (n < MIN_FULL_CLOSES) return [];
  const out: HeatProposal[] = [];
  for (const share of PROPOSAL_SHARES) {
    const min = cutAt(sorted, Math.round(share.cold * n));
    const max = cutAt(sorted, n - Math.round(share.hot * n));
    if (!(min < max) || out.some((p) => p.min === min && p.max === max)) continue;
    const pct = (v: number) => `${Math.round(v * 100)} %`;
    out.push({
      min,
      max,
      spread: { min: spreadOverHalves(sorted, share.cold, false, 1), max: spreadOverHalves(sorted, share.hot, true, 2) },
      aimed: { cold: share.cold, warm: 1 - share.cold - share.hot, hot: share.hot },
      rule: `COLD ${pct(share.cold)} / WARM ${pct(1 - share.cold - share.hot)} / HOT ${pct(share.hot)} of ${n} full closes`,
    });
  }
  return out;
}
