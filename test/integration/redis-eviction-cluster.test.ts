import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { buildInfo } from '../../app/build-info.js';
import { createRuntime, type Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { startTestRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { governorDecisions, waitFor } from '../support/runtime.js';

/**
 * Issue #59 item 3 on Redis Cluster: each master evicts its own keys under its own policy (CONFIG
 * SET is per node), and one decision's keys live on several masters. An evicting policy on any one
 * master blocks every open, whichever node holds the plan's keys (docs/cluster.md).
 */
describe('an evicting policy on any one master of a Redis Cluster blocks opens', () => {
  let cluster: TestRedisCluster;
  let r: Cluster;
  let runtime: Runtime;

  beforeAll(async () => {
    cluster = await startTestRedisCluster();
    r = cluster.client;
    runtime = await createRuntime({
      build: buildInfo(),
      env: {
        REDIS_CLUSTER_NODES: cluster.nodes,
        BULLMQ_PREFIX: '{quantum}',
        HANDLERS: 'governor',
        PORT: '0',
        LOG_LEVEL: 'silent',
        BLOCK_MS: '100',
        CONSUMER_NAME: `evict-cluster-${process.pid}`,
        GOV_SYMBOL_COOLDOWN_SECONDS: '0',
      },
      handlers: allHandlers,
    });
    await runtime.start();
  });
  afterAll(async () => {
    await runtime?.stop();
    await cluster?.stop();
  });

  let seq = 0;
  async function decide(action: string): Promise<Record<string, string>> {
    seq += 1;
    const planId = `evict-cluster-${seq}`;
    const side = action.startsWith('OPEN') ? 'BUY' : 'SELL';
    await r.hset(keys.marketState('BTCUSDT'), 'mark_price', '100');
    await r.xadd(
      streams.applyPlan,
      '*',
      ...Object.entries({ plan_id: planId, symbol: 'BTCUSDT', action, side, decision: 'EXECUTE', qty: '0.001', price: '100' }).flat(),
    );
    return waitFor(async () => (await governorDecisions(r)).find((e) => e.plan_id === planId), { what: `the decision of ${planId}` });
  }

  it('each master in turn: volatile-ttl on it alone blocks the open redis_may_evict and permits the close; noeviction permits the open', async () => {
    const masters = r.nodes('master');
    expect(masters.length).toBe(3);
    expect(await decide('OPEN_LONG')).toMatchObject({ event: 'permit', reason: 'all_gates_passed' });
    for (const master of masters) {
      await master.config('SET', 'maxmemory-policy', 'volatile-ttl');
      try {
        expect(await decide('OPEN_LONG')).toMatchObject({ event: 'block', reason: 'redis_may_evict' });
        expect(await decide('PARTIAL_50')).toMatchObject({ event: 'permit', reason: 'close_bypass' });
      } finally {
        await master.config('SET', 'maxmemory-policy', 'noeviction');
      }
      expect(await decide('OPEN_LONG')).toMatchObject({ event: 'permit', reason: 'all_gates_passed' });
    }
  });
});
