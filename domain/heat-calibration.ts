import { highest, lowest } from './extent.js';

/**
 * Whether the heat the gate sees and its thresholds are on the same scale (issue #26): the
 * calibration warning of `report calibrate` and of the status page's headline, one rule for both.
 * Pure.
 */

/** The ratio beyond which the data and a threshold are on different scales. */
export const SCALE_FACTOR = 10;

/** The ⌈p·n⌉-th smallest of `sorted` (nearest rank), null when empty. */
export function nearestRank(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length))) - 1]!;
}

/** How far, as a ratio ≥ 1, the nearest positive heat is from `threshold` (Infinity when none is). */
function nearestRatio(heats: readonly number[], threshold: number): number {
  let best = Infinity;
  for (const h of heats) if (h > 0 && threshold > 0) best = Math.min(best, Math.max(h / threshold, threshold / h));
  return best;
}

const short = (v: number) => Number(v.toPrecision(3)).toString();

/**
 * The warning, or null when some heat came within a factor of 10 of HEAT_MIN or HEAT_MAX. Heats
 * of 0 (no position with a sigma) say nothing of scale and are not counted; without a positive
 * heat there is no warning (the gate's no-sigma figures say what is missing then).
 */
export function calibrationWarning(heats: readonly number[], thresholds: { readonly min: number; readonly max: number }): string | null {
  const positive = heats.filter((h) => h > 0);
  if (positive.length === 0) return null;
  if (nearestRatio(positive, thresholds.min) <= SCALE_FACTOR || nearestRatio(positive, thresholds.max) <= SCALE_FACTOR) return null;
  const lo = lowest(positive);
  const hi = highest(positive);
  const side =
    hi < thresholds.min
      ? 'below HEAT_MIN: every full close is COLD'
      : lo >= thresholds.max
        ? 'above HEAT_MAX: every full close is HOT'
        : 'between the thresholds';
  return (
    `calibration: the heat of ${positive.length} decisions (${short(lo)} to ${short(hi)}) never came within a factor of ${SCALE_FACTOR} ` +
    `of HEAT_MIN ${thresholds.min} or HEAT_MAX ${thresholds.max}; thresholds and data are on different scales (${side})`
  );
}
