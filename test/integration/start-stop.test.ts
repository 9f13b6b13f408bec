import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { keys, streams } from '../../schemas/keys.js';
import { createTestRuntime, startRuntime, waitFor } from '../support/runtime.js';

describe('runtime start and stop', () => {
  let redis: TestRedis;
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    redis = await startTestRedis();
    process.on('unhandledRejection', record);
  });
  afterAll(async () => {
    process.off('unhandledRejection', record);
    await redis.stop();
  });

  it('stops cleanly right after starting, with every gate hosted (BullMQ workers included)', async () => {
    for (let i = 0; i < 5; i++) {
      const runtime = await startRuntime(redis.url, { BUDGET_COMPUTE_INTERVAL_SEC: '1' }, allHandlers);
      await runtime.stop();
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(unhandled).toEqual([]);
  });

  // A restart's stop used to wait for each consumer's XREADGROUP to come back empty (up to
  // BLOCK_MS, a second by default): most of the restart. The read is ended at once instead.
  it('a stop ends a blocking read at once, with nothing delivered by it, instead of waiting BLOCK_MS', async () => {
    const runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate', BLOCK_MS: '120000' }, allHandlers);
    const blockedReads = async () =>
      String(await redis.client.call('CLIENT', 'LIST'))
        .split('\n')
        .filter((line) => / cmd=xreadgroup/.test(line) && / flags=b /.test(line)).length;
    await waitFor(async () => (await blockedReads()) === 1 || undefined, { what: "the heat gate's read blocked" });

    const stopped = await Promise.race([
      runtime.stop().then(() => 'stopped'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting for the read'), 60_000).unref()),
    ]);

    expect(stopped).toBe('stopped');
    expect(await blockedReads()).toBe(0);
    // Nothing was delivered to the stopped consumer: a proposal sent now waits for the next one, pending for nobody.
    await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'after-stop', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
    const [pending] = (await redis.client.xpending(streams.harvestProposal, 'p26_heat_gate')) as [number];
    expect(pending).toBe(0);
    await redis.client.del(streams.harvestProposal, keys.portfolioHeat);
  }, 90_000);

  // The gates start together (runtime.ts startAll): a failure still says which gate, and the
  // others, already started, stop cleanly.
  it('names the gate that could not start, and stops the gates that did', async () => {
    await redis.client.set('test:not-a-stream', 'a string');
    const runtime = await createTestRuntime(
      redis.url,
      { HANDLERS: 'governor,heat-gate', P26_INPUT_STREAM: 'test:not-a-stream' },
      allHandlers,
    );
    await expect(runtime.start()).rejects.toThrow(/^heat-gate did not start: WRONGTYPE/);
    await runtime.stop();
    await new Promise((r) => setTimeout(r, 200));
    expect(unhandled).toEqual([]);
  });
});
