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
  readonly aimed: { readonly cold: number; readonly warm: number; readonly hot: number };
}

/**
 * A threshold with exactly `k` of `sorted` (ascending) strictly below it: halfway between the
 * k-th and the (k+1)-th heat, at the fewest significant digits that keep it between them (a
 * setting one can type); below the smallest heat when k = 0 and above the largest when k = n.
 */
export function cutAt(sorted: readonly number[], k: number): number {
  const lo = k === 0 ? 0 : sorted[k - 1]!;
  const hi = k >= sorted.length ? sorted[sorted.length - 1]! * 2 : sorted[k]!;
  if (!(hi > lo)) return hi;
  const mid = (lo + hi) / 2;
  for (let digits = 1; digits <= 15; digits++) {
    const typed = Number(mid.toPrecision(digits));
    if (typed > lo && typed <= hi) return typed;
  }
  return mid;
}

/**
 * The proposals over the heat of the recorded full closes with a trusted heat (a fail-closed one
 * is COLD whatever the thresholds): HEAT_MIN with round(cold × n) heats below it, HEAT_MAX with
 * round(hot × n) at or above it. Ties make the shares come out differently; the what-if counts
 * what each pair really decides. None when fewer than 4 full closes have a heat.
 */
export function proposeHeatThresholds(records: readonly HeatDecisionRecord[]): HeatProposal[] {
  const sorted = records
    .filter((r) => FULL_CLOSES.has(r.inAction) && r.heat !== undefined && r.heat > 0)
    .map((r) => r.heat!)
    .sort((a, b) => a - b);
  const n = sorted.length;
  if (n < 4) return [];
  const out: HeatProposal[] = [];
  for (const share of PROPOSAL_SHARES) {
    const min = cutAt(sorted, Math.round(share.cold * n));
    const max = cutAt(sorted, n - Math.round(share.hot * n));
    if (!(min < max) || out.some((p) => p.min === min && p.max === max)) continue;
    const pct = (v: number) => `${Math.round(v * 100)} %`;
    out.push({
      min,
      max,
      aimed: { cold: share.cold, warm: 1 - share.cold - share.hot, hot: share.hot },
      rule: `COLD ${pct(share.cold)} / WARM ${pct(1 - share.cold - share.hot)} / HOT ${pct(share.hot)} of ${n} full closes`,
    });
  }
  return out;
}
