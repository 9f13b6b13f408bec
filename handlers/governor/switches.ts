import * as z from 'zod';
import { killSwitchState } from '../../domain/kill-switch.js';
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
    const [kill, disarm] = await Promise.all([ctx.redis.get(keys.killSwitch), ctx.redis.get(keys.governorDisarm)]);
    const state = killSwitchState(kill);
    ctx.metrics.killSwitch.set(state === 'off' ? 0 : 1);
    ctx.metrics.killSwitchUnrecognised.set(state === 'unrecognised' ? 1 : 0);
    ctx.metrics.disarmed.set(disarm === null ? 0 : 1);
    if (state === 'unrecognised')
      ctx.log.warn({ value: kill }, `quantum:kill holds "${kill}", neither clearly off nor on: the governor blocks every plan`);
  },
});
