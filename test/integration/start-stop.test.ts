import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime, startRuntime } from '../support/runtime.js';

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
