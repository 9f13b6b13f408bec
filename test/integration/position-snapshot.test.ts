import { afterEach, describe, expect, it } from 'vitest';
import { positionSnapshot } from '../../handlers/position-snapshot.js';
import { TransactionCommitter, type Committer } from '../../runtime/engine/commit.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, pendingCount, produce, startRuntime } from '../support/runtime.js';
import { untilKeys } from '../support/until.js';

describe('position-snapshot against a replica that commits a newer snapshot first', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  let release = () => undefined as void;

  afterEach(async () => {
    release();
    await runtime?.stop();
    runtime = undefined;
  });

  /**
   * Holds this runtime's first commit until released, as a slow replica would: `held` resolves
   * once that commit is in hand, `committed` once it has been made (its reply in).
   */
  function heldCommitter() {
    const released = new Promise<void>((r) => (release = r));
    let hold = () => undefined as void;
    let made = () => undefined as void;
    const held = new Promise<void>((r) => (hold = r));
    const committed = new Promise<void>((r) => (made = r));
    let first = true;
    const factory = (connection: ConstructorParameters<typeof TransactionCommitter>[0]): Committer => {
      const inner = new TransactionCommitter(connection, 0);
      return {
        async commit(source, items) {
          if (!first) return inner.commit(source, items);
          first = false;
          hold();
          await released;
          const report = await inner.commit(source, items);
          made();
          return report;
        },
      };
    };
    return { factory, held, committed };
  }

  it('never lets the older snapshot overwrite the newer one, even when it was read first', async () => {
    const symbol = 'ETHUSDT';
    const [olderId] = await produce(redis.client, streams.positionSnapshot, [{ symbol, position_notional_usd: '100', sigma: '0.1' }]);
    const held = heldCommitter();
    runtime = await startRuntime(redis.url, {}, [positionSnapshot], { committerFactory: held.factory });
    // The older snapshot handled and its commit held.
    await held.held;

    // Meanwhile another replica applies a newer snapshot of the same symbol.
    const newerId = `${Number.parseInt(olderId!, 10) + 1000}-0`;
    await redis.client.hset(keys.position(symbol), 'symbol', symbol, 'position_notional_usd', '900', 'source_id', newerId);
    await redis.client.set(keys.positionAppliedId(symbol), newerId);
    release();

    // The older snapshot acknowledged in that commit, without its writes.
    await held.committed;
    expect(await pendingCount(redis.client, streams.positionSnapshot, 'position_snapshot')).toBe(0);
    expect(await redis.client.hgetall(keys.position(symbol))).toMatchObject({ position_notional_usd: '900', source_id: newerId });
    expect(await redis.client.get(keys.positionAppliedId(symbol))).toBe(newerId);
    expect(await metricSum(runtime, 'quantum_position_snapshots_stale_total')).toBe(1);
    expect(await metricSum(runtime, 'quantum_position_snapshots_applied_total')).toBe(0);
    expect(await metricSum(runtime, 'quantum_gates_messages_total', { handler: 'position-snapshot', outcome: 'superseded' })).toBe(1);
  });

  it('keeps a closed position closed when an older open snapshot commits after the close', async () => {
    const symbol = 'SOLUSDT';
    const [openId] = await produce(redis.client, streams.positionSnapshot, [{ symbol, position_notional_usd: '500', sigma: '0.2' }]);
    const held = heldCommitter();
    runtime = await startRuntime(redis.url, {}, [positionSnapshot], { committerFactory: held.factory });
    // The open snapshot handled and its commit held.
    await held.held;

    // Another replica applies the later close: the hash is gone, the applied id stays.
    await redis.client.set(keys.positionAppliedId(symbol), `${Number.parseInt(openId!, 10) + 1}-0`);
    release();

    // The open snapshot acknowledged in that commit, without its writes.
    await held.committed;
    expect(await pendingCount(redis.client, streams.positionSnapshot, 'position_snapshot')).toBe(0);
    expect(await redis.client.exists(keys.position(symbol))).toBe(0);
    expect(await redis.client.sismember(keys.activePositions, symbol)).toBe(0);
  });

  it('applies snapshots in order and records the last applied id', async () => {
    const ids = await produce(redis.client, streams.positionSnapshot, [
      { symbol: 'BTCUSDT', position_notional_usd: '1', sigma: '0.1' },
      { symbol: 'BTCUSDT', position_notional_usd: '2', sigma: '0.1' },
      { symbol: 'BTCUSDT', position_notional_usd: '0' },
      { symbol: 'BTCUSDT', position_notional_usd: '3', sigma: '0.1' },
    ]);
    runtime = await startRuntime(redis.url, {}, [positionSnapshot]);
    await untilKeys(
      redis.client,
      [keys.positionAppliedId('BTCUSDT')],
      async () => (await redis.client.get(keys.positionAppliedId('BTCUSDT'))) === ids[3],
      {
        what: 'the last snapshot applied',
      },
    );

    expect(await redis.client.hget(keys.position('BTCUSDT'), 'position_notional_usd')).toBe('3');
    expect(await redis.client.sismember(keys.activePositions, 'BTCUSDT')).toBe(1);
  });
});
