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
import { outcomeSample } from './outcomes/sample.js';

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
];
