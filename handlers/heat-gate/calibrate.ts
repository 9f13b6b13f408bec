import type { CalibrationReason, HeatBucket } from '../../schemas/heat-gate.js';
import { applyLayerRules, type ApplyLayerEra } from './apply-layer-era.js';

export interface Calibration {
  readonly calibratedAction: string;
  readonly downgraded: boolean;
  readonly reason: CalibrationReason;
  /** Fraction of the position the calibrated action closes, when the gate chose a partial. */
  readonly recommendedPartial: number | undefined;
}

/**
 * The full closes: the seeds' FULL_CLOSE, and FULL_CLOSE_PROPOSED, which is what the Harvest
 * Kernel writes (ai_engine/risk_kernel_harvest.py at 73fab1f55 line 285; it never writes FULL_CLOSE).
 */
export const FULL_CLOSES: ReadonlySet<string> = new Set(['FULL_CLOSE', 'FULL_CLOSE_PROPOSED']);

const reasonByBucket: Record<HeatBucket, CalibrationReason> = {
  COLD: 'portfolio_heat_cold',
  WARM: 'portfolio_heat_warm',
  HOT: 'portfolio_heat_hot',
};

/**
 * The smallest partial the Apply Layer of `era` executes: the original's PARTIAL_25 where it
 * can (newest), else PARTIAL_50 (the Apply Layer before 304998721 answers PARTIAL_25 with an
 * ERROR, which would stop the close altogether).
 */
function coldPartial(era: ApplyLayerEra): { action: string; partial: number } {
  return applyLayerRules[era].closes.has('PARTIAL_25') ? { action: 'PARTIAL_25', partial: 0.25 } : { action: 'PARTIAL_50', partial: 0.5 };
}

/**
 * The original's `_apply_gating_rule`: every PARTIAL_* passes (partial_unchanged), every other
 * action but a full close passes (non_full_close_unchanged), and a full close becomes
 * PARTIAL_25 when COLD (PARTIAL_50 for an Apply Layer that cannot execute PARTIAL_25), PARTIAL_75
 * when WARM, stays when HOT. Actions are compared as written. A decision without a trusted heat
 * is made with bucket COLD (fail-closed).
 */
export function calibrate(action: string, bucket: HeatBucket, era: ApplyLayerEra = 'newest'): Calibration {
  if (action.startsWith('PARTIAL_'))
    return { calibratedAction: action, downgraded: false, reason: 'partial_unchanged', recommendedPartial: undefined };
  if (!FULL_CLOSES.has(action))
    return { calibratedAction: action, downgraded: false, reason: 'non_full_close_unchanged', recommendedPartial: undefined };
  const reason = reasonByBucket[bucket];
  const downgrade = bucket === 'COLD' ? coldPartial(era) : bucket === 'WARM' ? { action: 'PARTIAL_75', partial: 0.75 } : undefined;
  if (!downgrade) return { calibratedAction: action, downgraded: false, reason, recommendedPartial: undefined };
  return { calibratedAction: downgrade.action, downgraded: true, reason, recommendedPartial: downgrade.partial };
}
