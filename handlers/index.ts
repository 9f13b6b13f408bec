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
 * What a gate needs hosted beside it (in its process or another), and what stops without them: the
 * governor's switch gauges, cooldowns, exit locks and reservation releases; the outcome follow-ups'
 * sweep, which takes the samples they put in the due set.
 */
const COMPANIONS: readonly { readonly gate: string; readonly companions: readonly string[]; readonly stops: string }[] = [
  {
    gate: governor.name,
    companions: [governorSwitches, governorCooldown, governorExitLocks, governorReservationResults].map((h) => h.name),
    stops: 'the kill-switch and disarm alerts, cooldowns, exit locks or reservation releases stop',
  },
  ...[heatOutcomes, governorOutcomes].map((h) => ({
    gate: h.name,
    companions: [outcomeSweep.name],
    stops: 'no outcome sample is taken (they wait in quantum:gates:outcome:due)',
  })),
];

/** Each hosted gate whose companions a HANDLERS list leaves out: which, and what stops unless another process hosts them. */
export function companionsLeftOut(hosted: readonly string[]): { gate: string; missing: string[]; stops: string }[] {
  return COMPANIONS.filter((c) => hosted.includes(c.gate))
    .map((c) => ({ gate: c.gate, missing: c.companions.filter((name) => !hosted.includes(name)), stops: c.stops }))
    .filter((c) => c.missing.length > 0);
}
