/**
 * A scheduled gate's tick as the shadow pairs it (docs/shadow.md, "A budget tick"): the schedule
 * period it falls in. Both sides tick once a period, on their own clocks, so a tick is named by
 * the start of its period, written as a stream id (`<ms>-0`): ids of ticks then order and compare
 * as stream entries do, and the pairing treats ticks as it treats inputs.
 */

/** The start of the period `ms` falls in (ms). */
export const tickSlot = (ms: number, periodMs: number): number => Math.floor(ms / periodMs) * periodMs;

/** The tick of the period starting at `slotMs`, as the pairing names it. */
export const tickId = (slotMs: number): string => `${slotMs}-0`;

/** The shadow state's field holding a scheduled gate's period (ms): the report names the incumbent's ticks by it. */
export const periodField = (gate: string): string => `${gate}:period_ms`;
