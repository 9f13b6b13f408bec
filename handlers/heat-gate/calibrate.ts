import type { HeatBucket, HeatProblem } from './heat.js';

export type CalibrationReason =
  | 'portfolio_heat_cold'
  | 'portfolio_heat_warm'
  | 'portfolio_heat_hot'
  | 'action_not_full_close'
  | HeatProblem
  | 'heat_gate_error';

export interface Calibration {
  readonly calibratedAction: string;
  readonly downgraded: boolean;
  readonly reason: CalibrationReason;
  /** Fraction of the position the calibrated action closes, when it is a partial we chose. */
  readonly recommendedPartial: number | undefined;
  readonly heatAction: 'DOWNGRADE_FULL_TO_PARTIAL' | 'HOLD_CLOSE' | 'NONE';
}

const downgradeByBucket: Record<HeatBucket, { action: string; partial: number } | undefined> = {
  COLD: { action: 'PARTIAL_25', partial: 0.25 },
  WARM: { action: 'PARTIAL_75', partial: 0.75 },
  HOT: undefined,
};

/**
 * The gate's rule: only FULL_CLOSE is ever changed, and only to something less aggressive.
 * A heat problem (missing or bad data, or an error) is treated as COLD: fail-closed.
 */
export function calibrate(action: string, bucket: HeatBucket, problem?: HeatProblem | 'heat_gate_error'): Calibration {
  if (action !== 'FULL_CLOSE') {
    return { calibratedAction: action, downgraded: false, reason: problem ?? 'action_not_full_close', recommendedPartial: undefined, heatAction: 'NONE' };
  }
  const effectiveBucket = problem ? 'COLD' : bucket;
  const downgrade = downgradeByBucket[effectiveBucket];
  const reason = problem ?? (`portfolio_heat_${effectiveBucket.toLowerCase()}` as CalibrationReason);
  if (!downgrade) return { calibratedAction: action, downgraded: false, reason, recommendedPartial: undefined, heatAction: 'HOLD_CLOSE' };
  return { calibratedAction: downgrade.action, downgraded: true, reason, recommendedPartial: downgrade.partial, heatAction: 'DOWNGRADE_FULL_TO_PARTIAL' };
}
