import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { spawnRuntime, type RuntimeProcess } from './support/runtime-process.js';
import { duplicates, fieldOfAll, pendingByConsumer, pendingCount, produce, proposal, seedPortfolio, waitFor } from './support/streams.js';

const GROUP = 'p26_heat_gate';
const TOTAL = 30_000;
const WAVES = 10;
const KILLS = 4;

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
      spawnRuntime({ redisUrl: redis.url, handlers: 'heat-gate', consumerName: `chaos-replica-${++seq}`, env: { BATCH_SIZE: '200' } }).then((p) => {
        all.push(p);
        return p;
      });
    const live = await Promise.all([start(), start(), start()]);

    // Input arrives in waves while replicas die and are replaced.
    const perWave = TOTAL / WAVES;
    let produced = 0;
    const producing = (async () => {
      for (let wave = 0; wave < WAVES; wave++) {
        await produce(r, streams.harvestProposal, Array.from({ length: perWave }, (_, i) => proposal(`m-${wave * perWave + i}`)));
        produced += perWave;
        await new Promise((resolve) => setTimeout(resolve, 800));
      }
    })();

    let orphaned = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const victim = live.splice(kill % live.length, 1)[0]!;
      await victim.kill();
      orphaned += (await pendingByConsumer(r, streams.harvestProposal, GROUP)).get(victim.name) ?? 0;
      live.push(await start());
    }
    await producing;
    expect(produced).toBe(TOTAL);

    await waitFor(async () => (await r.xlen(streams.harvestCalibrated)) >= TOTAL, { what: 'an output per message', timeoutMs: 120_000 });
    await waitFor(async () => (await pendingCount(r, streams.harvestProposal, GROUP)) === 0, { what: 'nothing pending', timeoutMs: 60_000 });

    const planIds = await fieldOfAll(r, streams.harvestCalibrated, 'plan_id');
    expect(duplicates(planIds)).toEqual([]);
    expect(planIds).toHaveLength(TOTAL);
    expect(await r.xlen(streams.deadLetter)).toBe(0);
    const reclaimed = (await Promise.all(live.map((p) => p.metric('quantum_gates_reclaimed_total')))).reduce((a, b) => a + b, 0);
    // Entries left pending by a dead replica reach 0 only by being reclaimed; either number proves it.
    expect(orphaned + reclaimed).toBeGreaterThan(0);
    console.info(`[chaos] replicas: ${TOTAL} messages, 3 replicas, ${KILLS} SIGKILLs, ${orphaned} entries orphaned at kill time, ${reclaimed} reclaimed by survivors, 0 lost, 0 duplicated`);
  });
});
