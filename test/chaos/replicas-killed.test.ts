import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { spawnRuntime, type RuntimeProcess } from './support/runtime-process.js';
import { duplicates, fieldOfAll, pendingByConsumer, pendingCount, produce, proposal, seedPortfolio } from './support/streams.js';
import { untilEachSeen } from '../support/until.js';

const GROUP = 'p26_heat_gate';
const KILLS = 4;
/** One wave before each kill and one after the last: 30,000 in all. */
const WAVE = 6_000;
const TOTAL = WAVE * (KILLS + 1);

/**
 * SIGKILLs `victim` at a moment it holds pending entries. A timed kill could land between two
 * batches (the test then proves nothing about reclaim, and flaked in CI), so the victim is frozen
 * with SIGSTOP, its pending count read while it cannot ack, and killed only when that count is
 * positive; otherwise it is thawed and tried again a moment later.
 */
async function killWhileHolding(victim: RuntimeProcess, pending: () => Promise<Map<string, number>>): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    process.kill(victim.pid, 'SIGSTOP');
    const held = (await pending()).get(victim.name) ?? 0;
    if (held > 0) {
      await victim.kill();
      return held;
    }
    process.kill(victim.pid, 'SIGCONT');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`${victim.name} never held an entry while a wave was being worked through:\n${victim.output()}`);
}

describe('three replicas on one consumer group, one SIGKILLed every few seconds', () => {
  let redis: TestRedis;
  const all: RuntimeProcess[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await Promise.all(all.map((p) => p.kill()));
    await redis?.stop();
  });

  it('processes every message once and reclaims what the dead replicas held', async () => {
    const r = redis.client;
    await seedPortfolio(r);
    let seq = 0;
    const start = () =>
      spawnRuntime({ redisUrl: redis.url, handlers: 'heat-gate', consumerName: `chaos-replica-${++seq}`, env: { BATCH_SIZE: '200' } }).then(
        (p) => {
          all.push(p);
          return p;
        },
      );
    const live = await Promise.all([start(), start(), start()]);

    // Each kill lands while a wave is being worked through, so the victim dies holding entries
    // (a batch in hand and one prefetched); its replacement has a new name, so only the
    // survivors' reclaim can finish what the victim held.
    let next = 0;
    const wave = () =>
      produce(
        r,
        streams.harvestProposal,
        Array.from({ length: WAVE }, () => proposal(`m-${next++}`)),
        WAVE,
      );
    const victims: { name: string; heldAtKill: number }[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      await wave();
      const victim = live.splice(kill % live.length, 1)[0]!;
      const heldAtKill = await killWhileHolding(victim, () => pendingByConsumer(r, streams.harvestProposal, GROUP));
      victims.push({ name: victim.name, heldAtKill });
      live.push(await start());
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    await wave();
    expect(next).toBe(TOTAL);
    expect(victims.every((v) => v.heldAtKill > 0)).toBe(true);

    const sent = Array.from({ length: TOTAL }, (_, i) => `m-${i}`);
    await untilEachSeen(r, streams.harvestCalibrated, 'plan_id', sent, { what: 'an output per message', timeoutMs: 120_000 });
    // Each output was committed with its message's ack.
    expect(await pendingCount(r, streams.harvestProposal, GROUP)).toBe(0);

    const planIds = await fieldOfAll(r, streams.harvestCalibrated, 'plan_id');
    expect(duplicates(planIds)).toEqual([]);
    expect(planIds).toHaveLength(TOTAL);
    expect(await r.xlen(streams.deadLetter)).toBe(0);
    // Every dead replica's pending entries were taken over and finished by the others.
    const pendingAtEnd = await pendingByConsumer(r, streams.harvestProposal, GROUP);
    expect(victims.map((v) => pendingAtEnd.get(v.name) ?? 0)).toEqual(victims.map(() => 0));
    const orphaned = victims.reduce((sum, v) => sum + v.heldAtKill, 0);
    console.info(
      `[chaos] replicas: ${TOTAL} messages, 3 replicas, ${KILLS} SIGKILLs, ${orphaned} entries held by the victims at kill time (${victims.map((v) => v.heldAtKill).join(', ')}), all reclaimed; 0 lost, 0 duplicated`,
    );
  });
});
