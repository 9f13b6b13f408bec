import { highest } from '../../domain/extent.js';
import { heatText } from '../../domain/heat.js';
import type { ApplyLayerEra } from '../../handlers/heat-gate/apply-layer-era.js';
import type { Limits } from '../../handlers/governor/config.js';
import type { Outcome } from '../../schemas/outcome.js';
import {
  DEFAULT_HEAT_VALIDITY_MS,
  heatDistribution,
  heatSamplesById,
  heatWhatIf,
  reproduceHeat,
  type HeatDecisionRecord,
  type HeatDistribution,
  type HeatWhatIf,
  type Thresholds,
} from './calibrate-heat.js';
import type { Reproduction } from './calibrate-common.js';
import { noProposalReason, proposeHeatThresholds, type HeatProposal } from './calibrate-proposals.js';
import {
  describeCaps,
  governorSamplesById,
  governorWhatIf,
  reproduceGovernor,
  type CapSetting,
  type GovernorDecisionRecord,
  type GovernorWhatIf,
} from './calibrate-governor.js';

/**
 * `quantum-gates report calibrate`: before switching shadow → enforce, what every threshold and
 * cap would have done, from the decisions already recorded (issue #26). Pure: records in, report
 * out (reading Redis is cli/commands/report.ts).
 */

export interface CalibrateInput {
  readonly heatDecisions: readonly HeatDecisionRecord[];
  readonly governorDecisions: readonly GovernorDecisionRecord[];
  readonly samples: readonly Outcome[];
  readonly window: { readonly from: number; readonly to: number };
  /** The configured HEAT_MIN/HEAT_MAX and Apply Layer era (the heat gate's settings in this environment). */
  readonly thresholds: Thresholds;
  readonly era: ApplyLayerEra;
  /** The configured governor limits. */
  readonly limits: Limits;
  /** --heat-grid: pairs to try beside the configured one and the proposals (calibrate-proposals.ts). */
  readonly heatGrid?: readonly Thresholds[];
  /** How long a heat reading holds past its decision when no later traffic bounds it (P26_HEAT_REFRESH_MS). */
  readonly heatValidityMs?: number;
  /** --caps, each one alternative; the configured caps are always the first row. */
  readonly caps?: readonly CapSetting[];
  /** The configured OUTCOME_HORIZONS: each is reported, sampled yet or not (with the samples' own). */
  readonly horizons?: readonly { readonly label: string; readonly ms: number }[];
}

export interface CalibrateReport {
  /** One line: the calibration warning when the data and the thresholds are on different scales. */
  readonly headline: string;
  readonly thresholds: Thresholds;
  readonly horizons: readonly string[];
  readonly heat: HeatDistribution;
  readonly heatWhatIf: readonly HeatWhatIf[];
  /** Pairs proposed from the heat of the recorded full closes (calibrate-proposals.ts), each decided again and priced. */
  readonly heatProposals: readonly { readonly proposal: HeatProposal; readonly whatIf: HeatWhatIf }[];
  /** Why nothing is proposed, in words; null when something is. */
  readonly heatProposalsNone: string | null;
  readonly governorWhatIf: readonly GovernorWhatIf[];
  readonly reproduction: {
    readonly heat: Reproduction;
    readonly governor: Reproduction & { readonly withoutInputs: number };
  };
}

/** The configured horizons and those of the samples, shortest first. */
export function horizonsOf(samples: readonly Outcome[], configured: readonly { readonly label: string; readonly ms: number }[]): string[] {
  const seconds = new Map<string, number>();
  for (const h of configured) seconds.set(h.label, h.ms / 1000);
  for (const s of samples) if (!seconds.has(s.horizon)) seconds.set(s.horizon, s.horizon_sec);
  return [...seconds.entries()].sort((a, b) => a[1] - b[1]).map(([h]) => h);
}

const pct = (part: number, whole: number) => (whole > 0 ? `${Math.round((part / whole) * 100)} %` : '—');

function headlineOf(heat: HeatDistribution, t: Thresholds): string {
  if (heat.calibrationWarning !== null) return heat.calibrationWarning;
  if (heat.decisions - heat.untrusted === 0) return 'no heat decision with a trusted heat in the window';
  const s = heat.msInBucket;
  const total = s.COLD + s.WARM + s.HOT + s.UNKNOWN;
  return (
    `heat median ${heat.percentiles.p50 === null ? '—' : heatText(heat.percentiles.p50)} over ${heat.decisions - heat.untrusted} decisions; of the time, COLD ${pct(s.COLD, total)}, ` +
    `WARM ${pct(s.WARM, total)}, HOT ${pct(s.HOT, total)} at HEAT_MIN ${t.min}, HEAT_MAX ${t.max}`
  );
}

export function calibrateReport(input: CalibrateInput): CalibrateReport {
  const { thresholds, era, limits } = input;
  const horizons = horizonsOf(input.samples, input.horizons ?? []);
  const trafficEnd = Math.max(highest(input.heatDecisions.map((r) => r.at)), highest(input.governorDecisions.map((r) => r.at)));
  const heat = heatDistribution(input.heatDecisions, thresholds, input.window.to, {
    trafficEnd,
    validityMs: input.heatValidityMs ?? DEFAULT_HEAT_VALIDITY_MS,
  });
  const given = input.heatGrid ?? [];
  // The configured pair always first, so every row reads against what runs today.
  const grid = [thresholds, ...given.filter((t) => t.min !== thresholds.min || t.max !== thresholds.max)];
  const heatSamples = heatSamplesById(input.samples);
  const govSamples = governorSamplesById(input.samples);
  const caps: CapSetting[] = [{}, ...(input.caps ?? []).filter((c) => describeCaps(c) !== 'configured')];
  const proposals = proposeHeatThresholds(input.heatDecisions);
  return {
    headline: headlineOf(heat, thresholds),
    thresholds,
    horizons,
    heat,
    heatWhatIf: grid.map((t) => heatWhatIf(input.heatDecisions, heatSamples, horizons, t, era, thresholds)),
    heatProposals: proposals.map((proposal) => ({
      proposal,
      whatIf: heatWhatIf(input.heatDecisions, heatSamples, horizons, proposal, era, thresholds),
    })),
    heatProposalsNone: proposals.length === 0 ? noProposalReason(input.heatDecisions) : null,
    governorWhatIf: caps.map((c) => governorWhatIf(input.governorDecisions, govSamples, horizons, limits, c)),
    reproduction: {
      heat: reproduceHeat(input.heatDecisions, thresholds, era),
      governor: reproduceGovernor(input.governorDecisions, limits),
    },
  };
}
