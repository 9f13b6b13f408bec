import { calibrationWarning, nearestRank } from '../../domain/heat-calibration.js';
import { defineStatusSection } from '../../runtime/contract/index.js';
import type { HeatGateConfig } from './config.js';
import { heatHistory, readCalibrated } from './status.js';

/**
 * The heat gate's calibration on the status page (issue #26 item 1): how the heat of its most
 * recent decisions is distributed, with HEAT_MIN and HEAT_MAX drawn across it, and a note on the
 * headline when the two never come within a factor of 10 (the thresholds and the data are on
 * different scales: every full close lands in one bucket). Reads the calibrated entries the heat
 * section reads already (one shared read). `quantum-gates report calibrate` has the full window.
 */

export interface HeatBin {
  /** The bin's middle. */
  readonly heat: number;
  readonly count: number;
}

export interface CalibrationStatus {
  /** Decisions with a trusted heat among those read. */
  readonly decisions: number;
  readonly p50: number | null;
  readonly max: number | null;
  /** null where this process does not host the gate (its settings are not known here). */
  readonly thresholds: { readonly min: number; readonly max: number } | null;
  readonly bins: readonly HeatBin[];
  readonly warning: string | null;
  /** Present where the gate hosted here enforces: the warning is then a DEGRADED reason, not a note. */
  readonly enforce?: true;
}

/** Bars of the distribution, from 0 to past the higher of the largest heat and HEAT_MAX. */
export const BIN_COUNT = 20;

export function calibrationStatus(
  heats: readonly number[],
  thresholds: CalibrationStatus['thresholds'],
  mode: 'shadow' | 'enforce' = 'shadow',
): CalibrationStatus {
  const sorted = [...heats].sort((a, b) => a - b);
  const max = sorted[sorted.length - 1] ?? null;
  const top = Math.max(max ?? 0, thresholds?.max ?? 0) * 1.05;
  const width = top > 0 ? top / BIN_COUNT : 0;
  const counts = new Array<number>(BIN_COUNT).fill(0);
  if (width > 0) for (const h of sorted) counts[Math.min(BIN_COUNT - 1, Math.floor(h / width))]! += 1;
  return {
    decisions: sorted.length,
    p50: nearestRank(sorted, 0.5),
    max,
    thresholds,
    // Bin middles at 6 significant digits: a chart's positions, not figures to add up.
    bins: width > 0 ? counts.map((count, i) => ({ heat: Number(((i + 0.5) * width).toPrecision(6)), count })) : [],
    warning: thresholds === null ? null : calibrationWarning(sorted, thresholds),
    ...(mode === 'enforce' ? { enforce: true as const } : {}),
  };
}

export const calibrationSection = defineStatusSection<HeatGateConfig, CalibrationStatus>({
  key: 'heat_calibration',
  title: 'Heat calibration',
  // Right after the portfolio heat (10), before the budgets (20).
  order: 15,
  views: [
    {
      shape: 'fields',
      fields: [
        { key: 'decisions', label: 'Decisions', format: 'count' },
        { key: 'p50', label: 'Median heat', format: 'number', digits: 6 },
        { key: 'max', label: 'Largest heat', format: 'number', digits: 6 },
        {
          key: 'thresholds',
          label: 'Thresholds',
          bands: { edges: ['min', 'max'], names: ['COLD', 'WARM', 'HOT'] },
          missing: 'not hosted here',
        },
        { key: 'warning', label: 'Calibration', missing: 'the heat reaches the thresholds’ scale' },
      ],
    },
    {
      shape: 'series',
      only: 'page',
      points: 'bins',
      x: 'heat',
      xFormat: 'number',
      y: 'count',
      mark: 'bars',
      name: 'decisions',
      bands: { at: 'thresholds', axis: 'x', edges: ['min', 'max'], names: ['COLD', 'WARM', 'HOT'] },
      label: 'Distribution of the heat of the most recent heat-gate decisions, with HEAT_MIN and HEAT_MAX',
      caption: 'The heat of the most recent decisions; `quantum-gates report calibrate` has what other thresholds would have done.',
      empty: 'no decision with a heat yet',
    },
  ],
  async read(ctx) {
    const entries = await readCalibrated(ctx);
    if (entries === null) return null;
    const thresholds = ctx.config ? { min: ctx.config.HEAT_MIN, max: ctx.config.HEAT_MAX } : null;
    return calibrationStatus(
      heatHistory(entries).map((p) => p.heat),
      thresholds,
      ctx.config?.P26_MODE,
    );
  },
  // In shadow mode a note, not an alarm: nothing acts on the thresholds yet. In enforce mode every
  // full close lands in one bucket whatever the book does: someone must look (DEGRADED, and the
  // alert P26EnforceOnUnreachedThresholds; docs/heat-gate.md).
  headline: (value) =>
    !value?.warning
      ? []
      : value.enforce
        ? [{ state: 'DEGRADED', text: `heat-gate enforces thresholds the heat never reaches: ${value.warning}`, since: null }]
        : [{ state: 'NOTE', text: `heat-gate ${value.warning}`, since: null }],
});
