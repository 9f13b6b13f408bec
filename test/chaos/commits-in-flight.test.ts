import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { killGateConnections } from './support/kill-connections.js';
import { spawnRuntime, type RuntimeProcess } from './support/runtime-process.js';
import { duplicates, fieldOfAll, pendingCount, produce, proposal, seedPortfolio, waitFor } from './support/streams.js';

const BACKLOG = 20_000;
const GROUP = 'p26_heat_gate';

/**
 * The heat gate never reads its own writes, so it handles a batch while the previous batch's
 * commit is in flight. When that commit fails (its connection dropped, Redis refused its writes),
 * the batch handled meanwhile must wait for it: here the commit connections are killed, or Redis
 * refuses writes, again and again during a drain. Every proposal must be decided once, and the
 * decisions must come out in the proposals' order.
 */
describe('commits while their connection dies or Redis refuses writes (chaos)', () => {
  let redis: TestRedis;
  let runtime: RuntimeProcess | undefined;

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    await runtime?.kill();
    runtime = undefined;
    await redis.client.config('SET', 'maxmemory', '0').catch(() => undefined);
  });

  /** A backlog of proposals in a fresh Redis, and the plan ids in stream order. */
  async function backlog(prefix: string): Promise<string[]> {
    await redis.client.flushall();
    await seedPortfolio(redis.client);
    const planIds = Array.from({ length: BACKLOG }, (_, i) => `${prefix}-${i}`);
    await produce(redis.client, streams.harvestProposal, planIds.map(proposal));
    return planIds;
  }

  async function start(name: string): Promise<RuntimeProcess> {
    runtime = await spawnRuntime({
      redisUrl: redis.url,
      handlers: 'heat-gate',
      consumerName: `chaos-${name}`,
      env: { REDIS_STALL_MS: '500', COMMIT_BACKOFF_MAX_MS: '200' },
    });
    return runtime;
  }

  /** Waits until every proposal is decided and nothing is pending; checks once each, in order. */
  async function expectDecidedOnceInOrder(planIds: string[], what: string): Promise<void> {
    const r = redis.client;
    await waitFor(async () => (await r.xlen(streams.harvestCalibrated)) >= planIds.length, { what, timeoutMs: 120_000 });
    await waitFor(async () => (await pendingCount(r, streams.harvestProposal, GROUP)) === 0, { what: 'nothing pending' });
    const calibrated = await fieldOfAll(r, streams.harvestCalibrated, 'plan_id');
    expect(duplicates(calibrated)).toEqual([]);
    expect(calibrated).toHaveLength(planIds.length);
    // In order: no batch's outputs landed before those of a batch ahead of it.
    const firstOutOfOrder = calibrated.findIndex((id, i) => id !== planIds[i]);
    expect(firstOutOfOrder).toBe(-1);
    expect(await fieldOfAll(r, streams.heatDecision, 'plan_id')).toEqual(planIds);
    expect(await r.xlen(streams.deadLetter)).toBe(0);
  }

  /** CLIENT KILL of the heat gate's commit connection; the number killed. */
  async function killCommitConnections(): Promise<number> {
    const list = (await redis.client.call('CLIENT', 'LIST')) as string;
    let killed = 0;
    for (const line of list.split('\n').filter((l) => /name=quantum-gates:/.test(l) && /:commit( |$)/.test(l))) {
      const id = /id=(\d+)/.exec(line)![1]!;
      await redis.client.call('CLIENT', 'KILL', 'ID', id).catch(() => undefined);
      killed += 1;
    }
    return killed;
  }

  it('the commit connection killed every 40 ms during a 20,000-proposal drain', async () => {
    const planIds = await backlog('kill');
    await start('inflight-kill');
    await waitFor(async () => (await redis.client.xlen(streams.harvestCalibrated)) > 0, { what: 'the drain under way' });
    let killed = 0;
    while ((await redis.client.xlen(streams.harvestCalibrated)) < BACKLOG * 0.9) {
      killed += await killCommitConnections();
      await new Promise((r) => setTimeout(r, 40));
    }
    await expectDecidedOnceInOrder(planIds, 'every proposal after the kills');
    expect(killed).toBeGreaterThan(5);
    console.info(`[chaos] commits in flight, commit connection killed ${killed} times: 0 lost, 0 duplicates, in order`);
  }, 180_000);

  it('Redis refusing writes (maxmemory) for 100 ms in every 200 during a 20,000-proposal drain', async () => {
    const planIds = await backlog('oom');
    await redis.client.config('SET', 'maxmemory-policy', 'noeviction');
    const gates = await start('inflight-oom');
    await waitFor(async () => (await redis.client.xlen(streams.harvestCalibrated)) > 0, { what: 'the drain under way' });
    let refusals = 0;
    while ((await redis.client.xlen(streams.harvestCalibrated)) < BACKLOG * 0.9) {
      // Windows short against the drain (~0.6 s unhindered): a faster gate still meets several.
      await redis.client.config('SET', 'maxmemory', '1');
      await new Promise((r) => setTimeout(r, 100));
      await redis.client.config('SET', 'maxmemory', '0');
      refusals += 1;
      await new Promise((r) => setTimeout(r, 100));
    }
    await expectDecidedOnceInOrder(planIds, 'every proposal after the refusals');
    expect(refusals).toBeGreaterThan(2);
    expect(await gates.metric('quantum_gates_commit_failures_total')).toBeGreaterThan(0);
    console.info(`[chaos] commits in flight, writes refused ${refusals} times: 0 lost, 0 duplicates, in order`);
  }, 180_000);
  it('a trickle far from capacity (each read sent after the commit) while every gate connection is killed every 100 ms', async () => {
    await redis.client.flushall();
    await seedPortfolio(redis.client);
    await start('paced-kill');
    await waitFor(async () => (await pendingCount(redis.client, streams.harvestProposal, GROUP).catch(() => -1)) === 0, {
      what: 'the group created',
    });
    const planIds = Array.from({ length: 400 }, (_, i) => `paced-${i}`);
    let killed = 0;
    let lastKill = Date.now();
    for (const planId of planIds) {
      await produce(redis.client, streams.harvestProposal, [proposal(planId)]);
      // One at a time, a few ms apart: the consumer waits far longer than it takes to handle one.
      await new Promise((r) => setTimeout(r, 5));
      if (Date.now() - lastKill >= 100) {
        killed += await killGateConnections(redis.client);
        lastKill = Date.now();
      }
    }
    await expectDecidedOnceInOrder(planIds, 'every proposal of the trickle after the kills');
    expect(killed).toBeGreaterThan(5);
    console.info(`[chaos] paced reads, gate connections killed ${killed} times: 0 lost, 0 duplicates, in order`);
  }, 180_000);
});
