import { calibrationWarning } from '../../domain/heat-calibration.js';

/**
 * Whether the heat this replica computes ever comes within a factor of 10 of HEAT_MIN or HEAT_MAX
 * (domain/heat-calibration.ts, the rule of the status page's NOTE and of `report calibrate`), over
 * the last hour of its heat refreshes (one every P26_HEAT_REFRESH_MS, from the start, proposals or
 * not). `quantum_heat_gate_thresholds_unreached` says it, and the alert
 * P26EnforceOnUnreachedThresholds fires when it holds in enforce mode: every full close would then
 * land in one bucket whatever the book does (docs/heat-gate.md, "Thresholds the heat never reaches").
 */
export const SCALE_WATCH_SPAN_MS = 3_600_000;

export class HeatScaleWatch {
  private readonly heats: number[] = [];
  private next = 0;

  /** Keeps the last `capacity` readings (an hour of refreshes). */
  constructor(private readonly capacity: number) {}

  add(heat: number): void {
    if (this.heats.length < this.capacity) this.heats.push(heat);
    else this.heats[this.next] = heat;
    this.next = (this.next + 1) % this.capacity;
  }

  /** The warning over the readings kept, or null (no positive heat yet, or one near a threshold). */
  warning(thresholds: { readonly min: number; readonly max: number }): string | null {
    return calibrationWarning(this.heats, thresholds);
  }
}

/** An hour of refreshes at `refreshMs`. */
export const scaleWatchCapacity = (refreshMs: number): number => Math.max(1, Math.ceil(SCALE_WATCH_SPAN_MS / refreshMs));
