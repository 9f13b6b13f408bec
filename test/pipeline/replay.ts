/**
 * The pipeline suite's traffic against a running process, for reproducing issue #22 by hand:
 *
 *   redis-server --port 6390 --save '' &
 *   REDIS_URL=redis://127.0.0.1:6390 npx tsx test/pipeline/replay.ts newest state
 *   REDIS_URL=redis://127.0.0.1:6390 P26_MODE=enforce P26_APPLY_LAYER_ERA=newest npm start &
 *   REDIS_URL=redis://127.0.0.1:6390 npx tsx test/pipeline/replay.ts newest traffic
 *
 * Start the gates with P26_APPLY_LAYER_ERA set to the era replayed (seed or newest) and P26_MODE
 * shadow or enforce (test/pipeline/traffic.ts, heatGateEnv).
 * `state` writes what the producers keep in Redis (P3.3, portfolio, market state, …) before the
 * gates start; `traffic` publishes the kernel's proposals with quantum-heat-gate's answers, waits,
 * then the Apply Layer's and intent bridge's plans, waits, and prints what an operator checks.
 * Use a Redis of its own: it writes upstream's keys.
 */
import { Redis } from 'ioredis';
import { keys, streams } from '../../schemas/keys.js';
import { applyLayerPlanFor } from './producers/apply-layer.js';
import { eras, type Era } from './producers/upstream.js';
import { expectedHeat, newestKernel, replayKernel, replayPlans, writeProducerState } from './traffic.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const [era, phase] = process.argv.slice(2) as [Era | undefined, string | undefined];
  const url = process.env.REDIS_URL;
  if (!era || !eras.includes(era) || (phase !== 'state' && phase !== 'traffic') || !url) {
    console.error('usage: REDIS_URL=redis://… npx tsx test/pipeline/replay.ts seed|newest state|traffic');
    process.exit(2);
  }
  const r = new Redis(url);
  try {
    if (phase === 'state') {
      await writeProducerState(r, era, Date.now());
      console.log(`${era}: producer state written; expected heat ${expectedHeat}`);
      return;
    }
    await replayKernel(r, era);
    await sleep(3000);
    const { closePlans, openPlans } = await replayPlans(r, era);
    await sleep(3000);
    const events = new Map(
      (await r.xrange(streams.governorEvents, '-', '+'))
        .map(([, fields]) => Object.fromEntries(fields.flatMap((v, i) => (i % 2 ? [] : [[v, fields[i + 1]]]))) as Record<string, string>)
        .map((e) => [e.plan_id, `${e.event} ${e.reason}`]),
    );
    for (const [planId, intent] of openPlans)
      console.log(`open ${intent.symbol} qty ${intent.qty}: ${events.get(planId) ?? 'no decision'} (want ${intent.expect.join(' ')})`);
    for (const [symbol, planId] of closePlans)
      console.log(`close ${symbol} ${planId}: ${events.get(planId) ?? 'no decision'} (want permit)`);
    for (const symbol of newestKernel.keys()) {
      const hash = await r.hgetall(keys.harvestProposal(symbol));
      const plan = applyLayerPlanFor(era, symbol, hash);
      const lookup = await r.exists(keys.heatByPlan(plan.planId));
      console.log(
        `${symbol}: hash harvest_action=${hash.harvest_action} action=${hash.action ?? '-'} calibrated=${hash.calibrated ?? '-'}; ` +
          `Apply Layer (${era}) ${plan.decision} ${plan.action}, by_plan:${plan.planId} ${lookup ? 'found' : 'missing'}`,
      );
    }
    console.log(
      `dead letters: ${await r.xlen(streams.deadLetter)}; heat: ${JSON.stringify(await r.hgetall(keys.portfolioHeat))} (expected ${expectedHeat})`,
    );
  } finally {
    r.disconnect();
  }
}

await main();
