import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { buildInfo } from '../../app/build-info.js';
import { createRuntime, type Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { startTestRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { governorDecisions } from '../support/runtime.js';

/**
 * Issue #23 on Redis Cluster: the cap guard is the cluster committer's lease on the cap version
 * (docs/cluster.md), and the reservations share the version's slot, so one node answers both
 * reads in order. Three replicas, small batches: the caps still hold exactly.
 */
describe('governor caps on a three-master Redis Cluster', () => {
  let cluster: TestRedisCluster;
  let r: Cluster;
  const runtimes: Runtime[] = [];

  beforeAll(async () => {
    cluster = await startTestRedisCluster();
    r = cluster.client;
    for (let i = 0; i < 3; i++) {
      const runtime = await createRuntime({
        build: buildInfo(),
        env: {
          REDIS_CLUSTER_NODES: cluster.nodes,
          BULLMQ_PREFIX: '{quantum}',
          HANDLERS: 'governor',
          PORT: '0',
          LOG_LEVEL: 'silent',
          BLOCK_MS: '100',
          CONSUMER_NAME: `caps-cluster-${process.pid}-${i}`,
          BATCH_SIZE: '2',
          GOV_MAX_OPEN_POSITIONS: '4',
          GOV_MAX_NOTIONAL_PER_TRADE_USDT: '200',
          GOV_MAX_TOTAL_NOTIONAL_USDT: '2000',
        },
        handlers: allHandlers,
      });
      await runtime.start();
      runtimes.push(runtime);
    }
  });
  afterAll(async () => {
    await Promise.all(runtimes.map((runtime) => runtime.stop()));
    await cluster?.stop();
  });

  it('keeps the reservations and the cap version in one slot, apart from the permits', async () => {
    const slot = async (key: string) => Number(await r.cluster('KEYSLOT', key));
    expect(await slot(keys.governorReservations)).toBe(await slot(keys.governorCapsVersion));
    expect(await slot(keys.permit('x'))).not.toBe(await slot(keys.governorCapsVersion));
  });

  it('permits exactly four of twenty opens on new symbols (position cap 4), across three replicas', async () => {
    for (let i = 0; i < 20; i++) await r.hset(keys.marketState(`CL${i}USDT`), 'mark_price', '100');
    // Opens as upstream's publish_plan writes apply.plan (microservices/apply_layer/main.py at
    // 8f5055c52, lines 673-690), with an open's side and qty.
    for (let i = 0; i < 20; i++)
      await r.xadd(
        streams.applyPlan,
        '*',
        'plan_id',
        `cl-${i}`,
        'symbol',
        `CL${i}USDT`,
        'action',
        'OPEN_LONG',
        'decision',
        'EXECUTE',
        'side',
        'BUY',
        'qty',
        '1.5',
        'price',
        '100',
      );
    const decided = await waitFor(async () => {
      const events = await governorDecisions(r);
      return events.length >= 20 ? events : undefined;
    }, 'twenty decisions');
    expect(decided.filter((e) => e.event === 'permit')).toHaveLength(4);
    expect(new Set(decided.filter((e) => e.event === 'block').map((e) => e.reason))).toEqual(new Set(['max_positions_reached']));
    expect(await r.zcard(keys.governorReservations)).toBe(4);
    expect(await r.get(keys.governorCapsVersion)).toBe('4');
  });
});

async function waitFor<T>(probe: () => Promise<T>, what: string, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last as NonNullable<T>;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}
