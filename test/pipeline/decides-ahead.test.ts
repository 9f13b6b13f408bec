/**
 * The governor decides a batch while the batch before it commits (batch.decidesAhead, issue #24),
 * on the real pipeline's plans of each era: the producers' state and the kernel's proposals
 * (test/pipeline/producers/, each citing the upstream code it copies), then the Apply Layer's and
 * the intent bridge's plans written as one backlog, read by the governor in batches of two, so
 * that each batch after the first is decided ahead of the previous one's commit. Every plan must
 * be decided once, as the whole-pipeline suite (eras.test.ts) expects it decided, and nothing
 * dead-lettered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createGovernor } from '../../handlers/governor/index.js';
import { allHandlers } from '../../handlers/index.js';
import { defineHandler } from '../../runtime/contract/handler.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { pendingCount, readStream, startRuntime, waitFor } from '../support/runtime.js';
import { closeSymbols, heatGateEnv, replayKernel, replayPlans, writeProducerState } from './traffic.js';

describe.each(['seed', 'newest'] as const)('the governor deciding ahead on the real pipeline’s plans, %s era', (era) => {
  let redis: TestRedis | undefined;
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    await redis?.stop();
  });

  it('a backlog of every plan, batches of two: each decided once as the pipeline suite expects, nothing dead-lettered', async () => {
    redis = await startTestRedis();
    const r = redis.client;
    const env = { ...heatGateEnv({ era, mode: 'shadow' }), BATCH_SIZE: '2' };
    await writeProducerState(r, era, Date.now());
    await replayKernel(r, era);
    // Every gate but the governor first: the position index, the snapshots and the kernel's proposals handled.
    const withoutGovernor = allHandlers.filter((h) => h.name !== 'governor' && h.name !== 'governor-cooldown');
    runtime = await startRuntime(redis.url, env, withoutGovernor);
    await waitFor(async () => ((await r.scard(keys.p33PositionIndex)) > 0 ? true : undefined), { what: 'the P3.3 index built' });
    await waitFor(async () => ((await pendingCount(r, streams.harvestProposal, 'p26_heat_gate')) === 0 ? true : undefined), {
      what: 'the kernel’s proposals handled',
    });
    await runtime.stop();
    runtime = undefined;

    const { closePlans, openPlans } = await replayPlans(r, era);
    const governor = createGovernor();
    const { loadState } = governor.batch ?? {};
    if (loadState === undefined) throw new Error('the governor loads a batch state');
    let decidedAhead = 0;
    const watched = defineHandler({
      ...governor,
      batch: {
        ...governor.batch,
        loadState: (reader, config, now, ahead) => {
          if (ahead !== undefined) decidedAhead += 1;
          return loadState(reader, config, now, ahead);
        },
      },
    });
    runtime = await startRuntime(redis.url, env, [
      ...withoutGovernor,
      watched,
      ...allHandlers.filter((h) => h.name === 'governor-cooldown'),
    ]);
    const plans = closePlans.size + openPlans.size;
    const events = await waitFor(
      async () => {
        const decided = (await readStream(r, streams.governorEvents)).filter((e) => e.event === 'permit' || e.event === 'block');
        return decided.length >= plans ? decided : undefined;
      },
      { what: `${plans} plans decided`, timeoutMs: 30_000 },
    );
    await waitFor(async () => ((await pendingCount(r, streams.applyPlan, 'governor')) === 0 ? true : undefined), {
      what: 'all acknowledged',
    });

    expect(decidedAhead).toBeGreaterThan(0);
    const decisions = (planId: string) => events.filter((e) => e.plan_id === planId).map((e) => [e.event, e.reason]);
    expect([...closePlans.keys()].sort()).toEqual([...closeSymbols].sort());
    for (const [symbol, planId] of closePlans) expect([symbol, decisions(planId).map(([event]) => event)]).toEqual([symbol, ['permit']]);
    for (const [planId, intent] of openPlans) expect([intent.symbol, decisions(planId)]).toEqual([intent.symbol, [intent.expect]]);
    expect(events.length).toBe(plans);
    expect(await readStream(r, streams.deadLetter)).toEqual([]);
  }, 120_000);
});
