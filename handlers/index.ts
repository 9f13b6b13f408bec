import type { AnyHandler } from '../runtime/handler.js';
import { governorCooldown } from './governor/cooldown.js';
import { governor } from './governor/index.js';
import { heatGate } from './heat-gate/index.js';
import { positionSnapshot } from './position-snapshot.js';
import { riskBudget } from './risk-budget/index.js';
import { heatBridge } from './heat-bridge/index.js';

/** Every gate this process can host; HANDLERS picks a subset by name. */
export const allHandlers: readonly AnyHandler[] = [positionSnapshot, heatGate, governor, governorCooldown, riskBudget, heatBridge];
