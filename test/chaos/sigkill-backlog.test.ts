import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { spawnRuntime, type RuntimeProcess } from './support/runtime-process.js';
import { duplicates, fieldOfAll, pendingByConsumer, pendingCount, produce, proposal, seedPortfolio } from './support/streams.js';
import { untilEachSeen, untilStreamLength } from '../support/until.js';

const GROUP = 'p26_heat_gate';
const BACKLOG = 50_000;

describe('SIGKILL in the middle of a 50,000-proposal backlog', () => {
  let redis: TestRedis;
  const processes: RuntimeProcess[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await redis?.stop();
  });

  it('a successor reclaims the dead consumer’s entries: exactly 50,000 outputs, no plan_id twice, nothing pending', async () => {
    const r = redis.client;
    await seedPortfolio(r);
    await produce(
      r,
      streams.harvestProposal,
      Array.from({ length: BACKLOG }, (_, i) => proposal(`k-${i}`)),
    );

    const first = await spawnRuntime({ redisUrl: redis.url, handlers: 'heat-gate', consumerName: 'chaos-kill-first' });
    processes.push(first);
    // Kill it once it is well into the backlog, mid-batch.
    await untilStreamLength(r, streams.harvestCalibrated, 5000, { what: 'first outputs', timeoutMs: 60_000 });
    await first.kill();
    const doneAtKill = await r.xlen(streams.harvestCalibrated);
    const orphaned = (await pendingByConsumer(r, streams.harvestProposal, GROUP)).get('chaos-kill-first') ?? 0;
    expect(doneAtKill).toBeLessThan(BACKLOG);

    const second = await spawnRuntime({ redisUrl: redis.url, handlers: 'heat-gate', consumerName: 'chaos-kill-second' });
    processes.push(second);
    const sent = Array.from({ length: BACKLOG }, (_, i) => `k-${i}`);
    await untilEachSeen(r, streams.harvestCalibrated, 'plan_id', sent, { what: 'all 50,000 outputs', timeoutMs: 120_000 });
    // Each output was committed with its proposal's ack.
    expect(await pendingCount(r, streams.harvestProposal, GROUP)).toBe(0);

    const planIds = await fieldOfAll(r, streams.harvestCalibrated, 'plan_id');
    expect(planIds).toHaveLength(BACKLOG);
    expect(duplicates(planIds)).toEqual([]);
    expect(new Set(planIds)).toEqual(new Set(Array.from({ length: BACKLOG }, (_, i) => `k-${i}`)));
    expect(await r.xlen(streams.heatDecision)).toBe(BACKLOG);
    expect(await r.xlen(streams.deadLetter)).toBe(0);
    // Whatever the first process held when it died was taken over by the second (the only way to 0 pending).
    expect(await second.metric('quantum_gates_reclaimed_total')).toBeGreaterThanOrEqual(orphaned);
    console.info(
      `[chaos] sigkill: killed at ${doneAtKill}/${BACKLOG} outputs with ${orphaned} entries pending on the dead consumer; all reclaimed, 0 duplicates`,
    );
  });
});
