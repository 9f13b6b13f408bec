import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import { Cluster as IoCluster, type Cluster } from 'ioredis';
import { redisIdentity } from '../../app/redis-identity.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { buildInfo } from '../../app/build-info.js';
import { createRuntime, type Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { nodeFor, startTestRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { readStream } from '../support/runtime.js';
import { untilKeys, untilStream, untilStreamLength } from '../support/until.js';
import { childBaseEnv } from '../support/own-dirs.js';
import { gatesEntry } from '../support/gates-process.js';

const BULLMQ_PREFIX = '{quantum}';
const known = new Set(allHandlers.map((h) => h.name));
/** The governor is driven when this tree has it; the heat gate always. */
const withGovernor = known.has('governor') && known.has('governor-cooldown');
const HANDLERS = ['position-snapshot', 'heat-gate', ...(withGovernor ? ['governor', 'governor-cooldown'] : [])].join(',');

/*
 * Regressions guarded here: keyless commands (XGROUP CREATE, XINFO) inside an auto-pipeline got
 * MOVED instead of being redirected, and a cross-slot MGET made every governor plan fail closed.
 */
describe('the gates on a three-master Redis Cluster', () => {
  let cluster: TestRedisCluster;
  let runtime: Runtime;
  let r: Cluster;

  beforeAll(async () => {
    cluster = await startTestRedisCluster();
    r = cluster.client;
    runtime = await createRuntime({
      build: buildInfo(),
      env: {
        REDIS_CLUSTER_NODES: cluster.nodes,
        BULLMQ_PREFIX,
        HANDLERS,
        PORT: '0',
        LOG_LEVEL: 'silent',
        BLOCK_MS: '100',
        CONSUMER_NAME: `cluster-test-${process.pid}`,
        // The heat gate's scenarios leave $3,800 of positions: room for the governor's open.
        GOV_MAX_TOTAL_NOTIONAL_USDT: '100000',
      },
      handlers: allHandlers,
    });
    await runtime.start();
  });
  let stopped = false;
  afterAll(async () => {
    if (!stopped) await runtime?.stop();
    await cluster?.stop();
  });

  it('refuses to start without a hash-tagged BULLMQ_PREFIX: one line naming it and the cure, no CROSSSLOT', async () => {
    const gates = spawn(process.execPath, [...gatesEntry()], {
      cwd: resolve(import.meta.dirname, '../..'),
      env: {
        ...childBaseEnv(),
        REDIS_CLUSTER_NODES: cluster.nodes,
        PORT: '0',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    for (const stream of [gates.stdout, gates.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((r) => gates.once('close', r));

    expect(code, output).toBe(1);
    expect(output.split('\n').filter((line) => line.includes('BULLMQ_PREFIX'))).toEqual([
      '  - BULLMQ_PREFIX: on a Redis Cluster (REDIS_CLUSTER_NODES) must hold a hash tag, e.g. BULLMQ_PREFIX={quantum}, so each queue\'s keys share one slot (got "bull"; docs/cluster.md)',
    ]);
    expect(output).not.toContain('CROSSSLOT');
    expect((await Promise.all(r.nodes('master').map((node) => node.keys('bull:*')))).flat()).toEqual([]);
  });

  it('has one identity whichever node a client is seeded with, for status to tell this cluster from another Redis', async () => {
    const [first, second] = cluster.nodes.split(',');
    const seeded = (node: string) => new IoCluster([{ host: node.split(':')[0]!, port: Number(node.split(':')[1]) }]);
    const [a, b] = [seeded(first!), seeded(second!)];
    try {
      const identity = await redisIdentity(a);
      expect(identity).toMatch(/^cluster:\w{40}$/);
      expect(await redisIdentity(b)).toBe(identity);
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });

  it('spreads the heat gate’s input, outputs and state over different slots (so this test means something)', async () => {
    const slots = await Promise.all(
      [streams.harvestProposal, streams.harvestCalibrated, streams.heatDecision, keys.portfolioState, keys.activePositions].map(
        async (key) => Number(await r.cluster('KEYSLOT', key)),
      ),
    );
    expect(new Set(slots).size).toBe(slots.length);
    const ready = await runtime.server.inject({ url: '/ready' });
    expect(ready.statusCode, ready.body).toBe(200);
  });

  it('runs the heat gate seed scenarios: COLD, WARM, HOT, PARTIAL passes', async () => {
    await r.hset(keys.portfolioState, 'equity_usd', '10000');
    await r.xadd(streams.positionSnapshot, '*', 'symbol', 'ETHUSDT', 'position_notional_usd', '1800', 'sigma', '0.15');
    await snapshotApplied(r, 'ETHUSDT');
    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'c-test1', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    expect(await output(r, 'c-test1')).toMatchObject({ calibrated_action: 'PARTIAL_25', heat_bucket: 'COLD', heat_value: '0.027' });

    await r.hset(keys.portfolioState, 'equity_usd', '3000');
    await r.xadd(streams.positionSnapshot, '*', 'symbol', 'BTCUSDT', 'position_notional_usd', '2000', 'sigma', '0.3');
    await snapshotApplied(r, 'BTCUSDT');
    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'c-test2', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    expect(await output(r, 'c-test2')).toMatchObject({ calibrated_action: 'PARTIAL_75', heat_bucket: 'WARM', heat_value: '0.29' });

    await r.hset(keys.portfolioState, 'equity_usd', '1000');
    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'c-test3', 'symbol', 'BTCUSDT', 'action', 'FULL_CLOSE');
    expect(await output(r, 'c-test3')).toMatchObject({ calibrated_action: 'FULL_CLOSE', heat_bucket: 'HOT', heat_value: '0.87' });

    await r.xadd(streams.harvestProposal, '*', 'plan_id', 'c-test4', 'symbol', 'ETHUSDT', 'action', 'PARTIAL_50');
    expect(await output(r, 'c-test4')).toMatchObject({ calibrated_action: 'PARTIAL_50', original_action: 'PARTIAL_50' });

    const decisions = await readStream(r, streams.heatDecision);
    expect(decisions.map((d) => d.plan_id)).toEqual(['c-test1', 'c-test2', 'c-test3', 'c-test4']);
    expect(await r.hget(keys.portfolioHeat, 'bucket')).toBe('HOT');
  });

  it('processes a backlog of 2,000 proposals once each and leaves nothing pending', async () => {
    const before = await r.xlen(streams.harvestCalibrated);
    const count = 2000;
    const pipeline = r.pipeline();
    for (let i = 0; i < count; i++)
      pipeline.xadd(streams.harvestProposal, '*', 'plan_id', `cb-${i}`, 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    await pipeline.exec();
    await untilStreamLength(await nodeFor(r, streams.harvestCalibrated), streams.harvestCalibrated, before + count, {
      what: 'all backlog outputs',
    });
    await waitFor(async () => (await pending(r, streams.harvestProposal, 'p26_heat_gate')) === 0, 'nothing pending');
    const planIds = (await readStream(r, streams.harvestCalibrated)).map((e) => e.plan_id).filter((id) => id?.startsWith('cb-'));
    expect(planIds).toHaveLength(count);
    expect(new Set(planIds).size).toBe(count);
  });

  it.runIf(withGovernor)('runs the governor: a close permitted, an open permitted, a second open blocked by cooldown', async () => {
    await r.xadd(
      streams.positionSnapshot,
      '*',
      'symbol',
      'SOLUSDT',
      'position_notional_usd',
      '300',
      'sigma',
      '0.2',
      'qty',
      '2',
      'mark_price',
      '150',
    );
    await snapshotApplied(r, 'SOLUSDT');
    const plan = (fields: Record<string, string>) =>
      r.xadd(streams.applyPlan, '*', ...Object.entries({ decision: 'EXECUTE', ...fields }).flat());
    // The governor prices an open at the market's mark price.
    await r.hset(keys.marketState('ADAUSDT'), 'mark_price', '0.5');

    await plan({ plan_id: 'g-close', symbol: 'SOLUSDT', action: 'FULL_CLOSE_PROPOSED', side: 'SELL', qty: '2' });
    expect(await decision(r, 'g-close')).toMatchObject({ event: 'permit', reason: 'close_bypass', kind: 'close' });

    await plan({ plan_id: 'g-open-1', symbol: 'ADAUSDT', action: 'UNKNOWN', side: 'BUY', qty: '100', price: '0.5' });
    expect(await decision(r, 'g-open-1')).toMatchObject({ event: 'permit', kind: 'open' });

    await plan({ plan_id: 'g-open-2', symbol: 'ADAUSDT', action: 'UNKNOWN', side: 'BUY', qty: '100', price: '0.5' });
    expect(await decision(r, 'g-open-2')).toMatchObject({ event: 'block', reason: 'symbol_cooldown', kind: 'open' });

    for (const id of ['g-close', 'g-open-1']) expect(await r.get(keys.permit(id))).not.toBeNull();
    expect(await r.get(keys.governorBlock('g-open-2'))).not.toBeNull();
    expect(await r.get(keys.permit('g-open-2'))).toBeNull();
    await waitFor(async () => (await pending(r, streams.applyPlan, 'governor')) === 0, 'plans acknowledged');

    // Each permit scheduled its cooldown's end as a delayed BullMQ job under the hash-tagged prefix.
    const queue = new Queue('governor-cooldown', { connection: r, prefix: BULLMQ_PREFIX });
    try {
      expect(await queue.getDelayedCount()).toBeGreaterThanOrEqual(2);
    } finally {
      await queue.close();
    }
  });

  it.runIf(withGovernor)('runs the cooldown job handler through BullMQ on the cluster', async () => {
    await runtime.services.jobs.add([
      {
        queue: 'governor-cooldown',
        name: 'cooldown-expired',
        data: { symbol: 'XRPUSDT', plan_id: 'g-cool', started_at: 1, until: 2 },
        delayMs: 0,
        jobId: 'cooldown-XRPUSDT-1',
      },
    ]);
    const event = await untilStream(
      await nodeFor(r, streams.governorEvents),
      streams.governorEvents,
      (events) => events.find((e) => e.event === 'cooldown_expired' && e.plan_id === 'g-cool'),
      { what: 'cooldown_expired event' },
    );
    expect(event).toMatchObject({ symbol: 'XRPUSDT' });
  });

  it('never leaves a guard lease behind after committing', async () => {
    // Scanned once the runtime has stopped, its commits done: a commit releases its leases after its
    // effects, so the tests above, which wait for an effect, can end while a commit is still releasing.
    await runtime.stop();
    stopped = true;
    const leftovers: string[] = [];
    for (const node of r.nodes('master')) {
      let cursor = '0';
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', '*:qg:lease', 'COUNT', 1000);
        cursor = next;
        leftovers.push(...found);
      } while (cursor !== '0');
    }
    expect(leftovers).toEqual([]);
  });
});

async function waitFor<T>(probe: () => Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last as NonNullable<T>;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** The heat gate's output for `planId`, once written: woken by each entry of the output stream (XREAD on its node). */
async function output(r: Cluster, planId: string) {
  return untilStream(
    await nodeFor(r, streams.harvestCalibrated),
    streams.harvestCalibrated,
    (entries) => entries.find((e) => e.plan_id === planId),
    {
      what: `output for ${planId}`,
    },
  );
}

/** The governor's decision for `planId`, once written: woken by each entry of its events stream (XREAD on its node). */
async function decision(r: Cluster, planId: string) {
  return untilStream(
    await nodeFor(r, streams.governorEvents),
    streams.governorEvents,
    (events) => events.find((e) => e.plan_id === planId && (e.event === 'permit' || e.event === 'block')),
    { what: `decision for ${planId}` },
  );
}

/** The position view has `symbol` in the active set: woken by the set's changes (keyspace notifications of its node). */
async function snapshotApplied(r: Cluster, symbol: string): Promise<void> {
  await untilKeys(
    await nodeFor(r, keys.activePositions),
    [keys.activePositions],
    async () => (await r.sismember(keys.activePositions, symbol)) === 1,
    {
      what: `${symbol} snapshot`,
    },
  );
}

async function pending(r: Cluster, stream: string, group: string): Promise<number> {
  const summary = (await r.xpending(stream, group)) as [number, ...unknown[]];
  return Number(summary[0]);
}
