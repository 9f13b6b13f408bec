import type { CalibrationReason, HeatBucket } from '../../schemas/heat-gate.js';

export interface Calibration {
  readonly calibratedAction: string;
  readonly downgraded: boolean;
  readonly reason: CalibrationReason;
  /** Fraction of the position the calibrated action closes, when the gate chose a partial. */
  readonly recommendedPartial: number | undefined;
}

const downgradeByBucket: Record<HeatBucket, { action: string; partial: number } | undefined> = {
  COLD: { action: 'PARTIAL_25', partial: 0.25 },
  WARM: { action: 'PARTIAL_75', partial: 0.75 },
  HOT: undefined,
};

const reasonByBucket: Record<HeatBucket, CalibrationReason> = {
  COLD: 'portfolio_heat_cold',
  WARM: 'portfolio_heat_warm',
  HOT: 'portfolio_heat_hot',
};

/**
 * The original's `_apply_gating_rule`: every PARTIAL_* passes (partial_unchanged), every other
 * action but exactly FULL_CLOSE passes (non_full_close_unchanged), and FULL_CLOSE becomes
 * PARTIAL_25 when COLD, PARTIAL_75 when WARM, stays when HOT. Actions are compared as written.
 * A decision without a trusted heat is made with bucket COLD (fail-closed).
 */
export function calibrate(action: string, bucket: HeatBucket): Calibration {
  if (action.startsWith('PARTIAL_'))
    return { calibratedAction: action, downgraded: false, reason: 'partial_unchanged', recommendedPartial: undefined };
  if (action !== 'FULL_CLOSE')
    return { calibratedAction: action, downgraded: false, reason: 'non_full_close_unchanged', recommendedPartial: undefined };
  const downgrade = downgradeByBucket[bucket];
  const reason = reasonByBucket[bucket];
  if (!downgrade) return { calibratedAction: action, downgraded: false, reason, recommendedPartial: undefined };
  return { calibratedAction: downgrade.action, downgraded: true, reason, recommendedPartial: downgrade.partial };
}
