import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { spawnRuntime, type RuntimeProcess } from './support/runtime-process.js';
import { pendingCount, produce, waitFor } from './support/streams.js';

const GROUP = 'governor-exit-locks';
/** Longer than COMMAND_TIMEOUT_MS, so the release's reads and writes time out meanwhile. */
const STALL_MS = 3000;

/**
 * A close's fill as the Apply Layer's publish_result writes apply.result (microservices/apply_layer/main.py
 * at 8f5055c52, lines 1318-1327): executed as str(bool).
 */
const fill = (planId: string, symbol: string) => ({
  plan_id: planId,
  symbol,
  decision: 'EXECUTE',
  executed: 'True',
  would_execute: 'True',
  steps_results: '[]',
  error: '',
  timestamp: String(Math.floor(Date.now() / 1000)),
});

/**
 * Issue #37 item 5: Redis stalls the moment governor-exit-locks has received a close's fill,
 * before it reads the lock (the proxy holds every byte from then on, as a stalled server does).
 * The release must be retried until it lands: the fill stays pending meanwhile, and the lock is
 * gone after the stall, not kept for its TTL (120 s) with the fill acknowledged as ignored.
 */
describe.each([
  // The health probe finds the stall about when the lock's read times out.
  ['reads time out at 1 s, a stall is called at 2 s', { COMMAND_TIMEOUT_MS: '1000', REDIS_STALL_MS: '2000' }],
  // Reads time out well before the health probe calls Redis stalled: the release's failures come first.
  ['reads time out at 150 ms, a stall is called at 2.5 s', { COMMAND_TIMEOUT_MS: '150', REDIS_STALL_MS: '2500' }],
])('the exit lock is released by its fill across a Redis stall (chaos), %s', (_name, settings) => {
  let redis: TestRedis;
  let proxy: TcpProxy;
  let runtime: RuntimeProcess | undefined;

  beforeAll(async () => {
    redis = await startTestRedis();
    proxy = await startTcpProxy({ port: redis.port });
    runtime = await spawnRuntime({
      redisUrl: proxy.url,
      handlers: GROUP,
      consumerName: `exit-lock-stall-${settings.COMMAND_TIMEOUT_MS}`,
      env: { ...settings, COMMIT_BACKOFF_MAX_MS: '500' },
    });
    await waitFor(async () => (await runtime!.get('/ready')).status === 200, { what: '/ready 200 at start' });
  });
  afterAll(async () => {
    await runtime?.kill();
    await proxy?.close();
    await redis?.stop();
  });

  for (const run of [1, 2, 3]) {
    it(`run ${run}: the lock is released once the stall ends, nothing ignored or dead-lettered`, async () => {
      const r = redis.client;
      const symbol = `STALL${run}USDT`;
      const planId = `stall-close-${settings.COMMAND_TIMEOUT_MS}-${run}`;
      await r.set(keys.governorExitLock(symbol), planId, 'EX', 120);
      const released = await runtime!.metric('quantum_govern_exit_lock_released_total');
      const ignored = await runtime!.metric('quantum_govern_exit_lock_result_ignored_total');

      const stalled = proxy.holdAfter(planId);
      await produce(r, streams.applyResult, [fill(planId, symbol)]);
      await stalled;
      await new Promise((resolve) => setTimeout(resolve, STALL_MS));
      // Still pending while Redis did not answer: nothing was acknowledged in the dark.
      expect(await pendingCount(r, streams.applyResult, GROUP)).toBe(1);
      await proxy.restore();

      await waitFor(async () => (await pendingCount(r, streams.applyResult, GROUP)) === 0, { what: 'the fill acknowledged' });
      const lockLeft = await r.exists(keys.governorExitLock(symbol));
      console.info(
        `stall of ${STALL_MS} ms after the fill (timeout ${settings.COMMAND_TIMEOUT_MS} ms, run ${run}): lock ${lockLeft ? 'kept' : 'released'}, ` +
          `released ${(await runtime!.metric('quantum_govern_exit_lock_released_total')) - released}, ` +
          `ignored ${(await runtime!.metric('quantum_govern_exit_lock_result_ignored_total')) - ignored}`,
      );
      expect(lockLeft).toBe(0);
      expect((await runtime!.metric('quantum_govern_exit_lock_released_total')) - released).toBe(1);
      expect((await runtime!.metric('quantum_govern_exit_lock_result_ignored_total')) - ignored).toBe(0);
      expect(await r.exists(streams.deadLetter)).toBe(0);
    });
  }
});
