import { afterEach, describe, expect, it } from 'vitest';
import { TransactionCommitter, type Committer } from '../../runtime/engine/commit.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { pendingCount, produce, startRuntime, waitFor } from '../support/runtime.js';

/** Issue #10 item 3: the first decision for a plan_id is the one kept, and latest_* follow stream order. */
describe('heat bridge: first wins in a backlog', () => {
  const redis = usePrivateRedis();
  const running: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });

  const decision = (planId: string, symbol: string, outAction: string) => ({
    plan_id: planId,
    symbol,
    in_action: 'FULL_CLOSE',
    out_action: outAction,
    heat_level: 'COLD',
  });

  async function drain(replicas: number) {
    for (let i = 0; i < replicas; i++) running.push(await startRuntime(redis.url, { HANDLERS: 'heat-bridge' }));
    await waitFor(async () => (await delivered()) && (await pendingCount(redis.client, streams.heatDecision, 'heat_bridge')) === 0, {
      what: 'backlog bridged',
    });
  }
  /** Every entry of the stream delivered to the group (its last-delivered id is the stream's last id). */
  async function delivered(): Promise<boolean> {
    const groups = (await redis.client.xinfo('GROUPS', streams.heatDecision).catch(() => [])) as unknown[][];
    const group = groups.find((g) => g[g.indexOf('name') + 1] === 'heat_bridge');
    const [[lastId] = []] = await redis.client.xrevrange(streams.heatDecision, '+', '-', 'COUNT', 1);
    return group !== undefined && group[group.indexOf('last-delivered-id') + 1] === lastId;
  }

  it('keeps FIRST for plan P and points latest_plan_id:BTCUSDT at P (the issue’s reproduction)', async () => {
    await produce(redis.client, streams.heatDecision, [
      decision('other1', 'BTCUSDT', 'PARTIAL_25'),
      decision('P', 'BTCUSDT', 'FIRST'),
      decision('P', 'ETHUSDT', 'DUP'),
    ]);
    await drain(1);
    expect(await redis.client.hget(keys.heatByPlan('P'), 'out_action')).toBe('FIRST');
    expect(await redis.client.get(keys.heatLatestPlanId('BTCUSDT'))).toBe('P');
    expect(await redis.client.hget(keys.heatLatest('BTCUSDT'), 'last_plan_id')).toBe('P');
    // The duplicate is skipped whole: ETHUSDT never saw a decision.
    expect(await redis.client.exists(keys.heatLatestPlanId('ETHUSDT'))).toBe(0);
  });

  it('keeps the first of 10 duplicated plan_ids in one backlog, one replica and three', async () => {
    for (const replicas of [1, 3]) {
      await redis.client.flushall();
      const entries = Array.from({ length: 10 }, (_, i) => [
        decision(`other${i}`, `S${i}USDT`, 'PARTIAL_25'),
        decision(`P${i}`, `S${i}USDT`, 'FIRST'),
        decision(`P${i}`, `D${i}USDT`, 'DUP'),
      ]).flat();
      await produce(redis.client, streams.heatDecision, entries);
      await drain(replicas);
      for (let i = 0; i < 10; i++) {
        expect([
          replicas,
          i,
          await redis.client.hget(keys.heatByPlan(`P${i}`), 'out_action'),
          await redis.client.get(keys.heatLatestPlanId(`S${i}USDT`)),
        ]).toEqual([replicas, i, 'FIRST', `P${i}`]);
      }
      await Promise.all(running.splice(0).map((r) => r.stop()));
    }
  });

  it('keeps the first across replicas: a replica holding the later duplicate waits for the one holding the first', async () => {
    // Replica A takes the first decision for P and is slow to commit it (held until released).
    let release = () => undefined as void;
    const released = new Promise<void>((r) => (release = r));
    let holding = () => undefined as void;
    const held = new Promise<void>((r) => (holding = r));
    const slow = (connection: ConstructorParameters<typeof TransactionCommitter>[0]): Committer => {
      const inner = new TransactionCommitter(connection, 0);
      return {
        async commit(source, items) {
          if (items.some((i) => i.recorder !== undefined)) {
            holding();
            await released;
          }
          return inner.commit(source, items);
        },
      };
    };
    try {
      running.push(
        await startRuntime(redis.url, { HANDLERS: 'heat-bridge', BATCH_SIZE: '1', CONSUMER_NAME: 'replica-a' }, undefined, {
          committerFactory: slow,
        }),
      );
      await produce(redis.client, streams.heatDecision, [decision('P', 'BTCUSDT', 'FIRST')]);
      await held; // replica A holding the first decision
      // Replica B takes the duplicate while A still holds the first; its commits are counted as
      // they come back from Redis.
      let committedByB = () => undefined as void;
      const bCommitted = new Promise<void>((r) => (committedByB = r));
      const counted = (connection: ConstructorParameters<typeof TransactionCommitter>[0]): Committer => {
        const inner = new TransactionCommitter(connection, 0);
        return {
          async commit(source, items) {
            const report = await inner.commit(source, items);
            if (items.some((i) => i.recorder !== undefined)) committedByB();
            return report;
          },
        };
      };
      running.push(
        await startRuntime(redis.url, { HANDLERS: 'heat-bridge', BATCH_SIZE: '1', CONSUMER_NAME: 'replica-b' }, undefined, {
          committerFactory: counted,
        }),
      );
      await produce(redis.client, streams.heatDecision, [decision('P', 'ETHUSDT', 'DUP')]);
      await waitFor(async () => (await redis.client.xpending(streams.heatDecision, 'heat_bridge'))[0] === 2, { what: 'both held' });
      // B's commit of the duplicate has come back from Redis: it must not have written P.
      await bCommitted; // replica B's commit of the duplicate
      expect(await redis.client.exists(keys.heatByPlan('P'))).toBe(0);
    } finally {
      release();
    }
    await waitFor(async () => (await pendingCount(redis.client, streams.heatDecision, 'heat_bridge')) === 0, { what: 'both bridged' });
    expect(await redis.client.hget(keys.heatByPlan('P'), 'out_action')).toBe('FIRST');
    expect(await redis.client.get(keys.heatLatestPlanId('BTCUSDT'))).toBe('P');
    expect(await redis.client.exists(keys.heatLatestPlanId('ETHUSDT'))).toBe(0);
  });
});
