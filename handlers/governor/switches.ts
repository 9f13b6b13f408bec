import * as z from 'zod';
import { killSwitchState } from '../../domain/kill-switch.js';
import { readKillSwitch } from './status.js';
import { defineHandler } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';
import { parseGovernorConfig } from './config.js';
import { switchMetrics } from './metrics.js';

/** How often the switch gauges are refreshed, whether or not plans flow. */
const REFRESH_MS = 5_000;

/**
 * Publishes the governor's safety switches as gauges (quantum_govern_kill_switch,
 * quantum_govern_disarmed) every few seconds, so an alert on them fires while no plan flows, with
 * the kill switch read by its one definition. An unrecognised value is logged with the value.
 */
export const governorSwitches = defineHandler({
  name: 'governor-switches',
  description: 'Publishes the kill switch and auto-disarm as gauges every 5 s (for alerts and dashboards)',
  trigger: { kind: 'schedule', queue: 'governor-switches', everyMs: () => REFRESH_MS },
  input: z.looseObject({}),
  config: parseGovernorConfig,
  metrics: switchMetrics,
  failure: { maxAttempts: 2, backoffMs: 50, policy: 'dead-letter' },
  async handle(_tick, ctx) {
    // Read as the governor reads them: a key of another type engages the switch (snapshot.ts).
    const [kill, disarmType] = await Promise.all([readKillSwitch(ctx.redis), ctx.redis.type(keys.governorDisarm)]);
    const state = kill.unreadable === undefined ? killSwitchState(kill.value) : 'unrecognised';
    ctx.metrics.killSwitch.set(kill.active ? 1 : 0);
    ctx.metrics.killSwitchUnrecognised.set(state === 'unrecognised' ? 1 : 0);
    ctx.metrics.disarmed.set(disarmType === 'none' ? 0 : 1);
    if (kill.unreadable !== undefined)
      ctx.log.warn({ unreadable: kill.unreadable }, `quantum:kill is ${kill.unreadable}: the governor blocks every plan`);
    else if (state === 'unrecognised')
      ctx.log.warn({ value: kill.value }, `quantum:kill holds "${kill.value}", neither clearly off nor on: the governor blocks every plan`);
  },
});
