import { redisTape } from '../../app/tape/store.js';
import { decodeTapeEntries, tapeKey, type TapeRecord } from '../../app/tape/format.js';
import { allHandlers } from '../../handlers/index.js';
import { streams } from '../../schemas/keys.js';
import type { TestRedis } from '../support/redis-server.js';
import { createTestRuntime } from '../support/runtime.js';
import { untilKeys, untilStream } from '../support/until.js';
import { newestKernel, replayKernel, replayPlans, writeProducerState, type Scenario } from './traffic.js';

/** A gate's tape, every record of every entry, oldest first. */
export async function taped(r: TestRedis['client'], gate: string): Promise<TapeRecord[]> {
  return decodeTapeEntries(await r.xrangeBuffer(tapeKey(gate), '-', '+'));
}

/** Waits until the governor's tape holds `decided` records. */
export async function untilGovernorTaped(r: TestRedis['client'], decided: number, what = 'governor taped'): Promise<void> {
  await untilKeys(r, [tapeKey('governor')], async () => (await taped(r, 'governor')).length >= decided || undefined, {
    timeoutMs: 20_000,
    what,
  });
}

type Plans = Awaited<ReturnType<typeof replayPlans>>;

/**
 * The scenario's traffic decided by every gate with the tape on, as the rehearsals read it: the
 * producers' state, the kernel's proposals until each symbol is calibrated, then the plans, and
 * (`more`, else a wait for the plans' governor records) whatever the test sends after them; the
 * runtime stopped after, so every record is written.
 */
export async function tapeScenario(
  redis: TestRedis,
  scenario: Scenario,
  env: Record<string, string>,
  more?: (plans: Plans) => Promise<void>,
): Promise<void> {
  const r = redis.client;
  await writeProducerState(r, scenario.era, Date.now());
  const runtime = await createTestRuntime(redis.url, env, allHandlers, { tape: redisTape(env) });
  try {
    await runtime.start();
    await replayKernel(r, scenario.era);
    await untilStream(r, streams.harvestCalibrated, (entries) => new Set(entries.map((e) => e.symbol)).size >= newestKernel.size, {
      timeoutMs: 20_000,
      what: 'a calibrated entry of every kernel symbol',
    });
    const plans = await replayPlans(r, scenario.era);
    if (more !== undefined) await more(plans);
    else await untilGovernorTaped(r, plans.closePlans.size + plans.openPlans.size);
  } finally {
    await runtime.stop();
  }
}
