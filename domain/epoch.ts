/**
 * Epoch time written by other services, in whatever unit they chose. One rule for every reader:
 * a value is seconds, milliseconds, microseconds or nanoseconds when it falls in that unit's
 * plausible window (2001-09-09 to 2286-11-20), and rejected otherwise. The windows are three
 * orders of magnitude apart, so no value is in two; a value between them (99999999999: 1973 in
 * ms, year 5138 in seconds) names no time anyone meant, and a guess would turn it into an age
 * that is negative or decades long.
 */
export type EpochUnit = 's' | 'ms' | 'us' | 'ns';

export type EpochReading =
  | { readonly ok: true; readonly ms: number; readonly unit: EpochUnit }
  | { readonly ok: false; readonly problem: 'not_positive' | 'unknown_unit' };

const WINDOWS: readonly { readonly unit: EpochUnit; readonly from: number; readonly toMs: number }[] = [
  { unit: 's', from: 1e9, toMs: 1e3 },
  { unit: 'ms', from: 1e12, toMs: 1 },
  { unit: 'us', from: 1e15, toMs: 1e-3 },
  { unit: 'ns', from: 1e18, toMs: 1e-6 },
];

/** Milliseconds since the epoch from a timestamp in any of the four units, or why not. */
export function readEpoch(value: number): EpochReading {
  if (!Number.isFinite(value) || value <= 0) return { ok: false, problem: 'not_positive' };
  for (const window of WINDOWS) {
    if (value >= window.from && value < window.from * 10) return { ok: true, ms: value * window.toMs, unit: window.unit };
  }
  return { ok: false, problem: 'unknown_unit' };
}

/** Milliseconds since the epoch, or undefined when the value names no time (see readEpoch). */
export function epochMs(value: number): number | undefined {
  const reading = readEpoch(value);
  return reading.ok ? reading.ms : undefined;
}
