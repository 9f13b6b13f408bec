import type { AnyHandler } from '../runtime/contract/index.js';
import { governorCooldown } from './governor/cooldown.js';
import { governorExitLocks } from './governor/exit-locks.js';
import { governor } from './governor/index.js';
import { governorReservationResults } from './governor/reservation-results.js';
import { governorSwitches } from './governor/switches.js';
import { heatGate } from './heat-gate/index.js';
import { positionSnapshot } from './position-snapshot.js';
import { positionIndex } from './positions/index-job.js';
import { riskBudget } from './risk-budget/index.js';
import { heatBridge } from './heat-bridge/index.js';
import { governorOutcomes } from './outcomes/governor-follow-up.js';
import { heatOutcomes } from './outcomes/heat-follow-up.js';
import { outcomeSample, outcomeSweep } from './outcomes/sample.js';

/** Every gate this process can host; HANDLERS picks a subset by name. */
export const allHandlers: readonly AnyHandler[] = [
  positionSnapshot,
  positionIndex,
  heatGate,
  governor,
  governorCooldown,
  governorExitLocks,
  governorReservationResults,
  governorSwitches,
  riskBudget,
  heatBridge,
  heatOutcomes,
  governorOutcomes,
  outcomeSample,
  outcomeSweep,
];

/**
 * What the governor needs hosted beside it (in its process or another): governor-switches sets the
 * kill-switch and disarm gauges their alerts read, governor-cooldown and governor-exit-locks keep
 * the cooldowns and exit locks it checks, governor-reservation-results releases its reservations.
 */
export const governorCompanions: readonly string[] = [
  governorSwitches,
  governorCooldown,
  governorExitLocks,
  governorReservationResults,
].map((h) => h.name);

/** The governor's companions a HANDLERS list hosting the governor leaves out (none when it hosts no governor). */
export function companionsLeftOut(hosted: readonly string[]): string[] {
  return hosted.includes(governor.name) ? governorCompanions.filter((name) => !hosted.includes(name)) : [];
}
