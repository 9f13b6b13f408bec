import { afterEach, describe, expect, it } from 'vitest';
import { jobDoneKey } from '../../runtime/engine/idempotency.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { monitorLines } from '../support/monitor-lines.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { startRuntime, waitFor } from '../support/runtime.js';

/**
 * A budget tick over a large universe commits in slices (OwnKeys.writes,
 * runtime/engine/write-ahead.ts): its budgets ahead, its violation and done record in the last
 * call. Its commit connection is killed (CLIENT KILL of exactly that client) at every third slice,
 * closer together than a tick's ten slices: every tick that is done has its one violation, none
 * has two, and every budget is written. A retried commit resumes after the slices that landed;
 * starting each retry again from the first slice, no tick ever finished (0 in 30 s, 12 kills).
 */
describe('a budget tick whose commit connection is killed between its slices (chaos)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('completes each tick once: one violation a done tick, every budget written', async () => {
    const now = Math.floor(Date.now() / 1000);
    await redis.client.hset(keys.portfolioState, { equity_usd: '100000', drawdown: '0.01', timestamp: String(now) });
    // Far over any budget: a violation every tick.
    await redis.client.hset(keys.position('BTCUSDT'), { symbol: 'BTCUSDT', position_notional_usd: '50000', sigma: '1.3' });
    await redis.client.sadd(keys.activePositions, 'BTCUSDT');
    const flat = Array.from({ length: 1200 }, (_, i) => `FLAT${i}USDT`);
    await redis.client.sadd(keys.p33PositionIndex, ...flat);

    // The second slice call of each tick names the committing client; it is killed as Redis runs it.
    let slices = 0;
    let kills = 0;
    const killer = redis.client.duplicate();
    const monitor = await monitorLines(redis.url, (line) => {
      const call = /^\+[\d.]+ \[\d+ ([^\]]+)\] "eval(?:sha)?" /i.exec(line);
      if (call === null || !line.includes(`[\\"HSET\\",\\"${keys.budget('')}`)) return;
      if (++slices % 3 !== 2) return;
      kills++;
      void killer.call('CLIENT', 'KILL', 'ADDR', call[1]!).catch(() => undefined);
    });
    try {
      runtime = await startRuntime(redis.url, { HANDLERS: 'risk-budget', BUDGET_COMPUTE_INTERVAL_SEC: '1' });
      const doneTicks = async () => (await redis.client.keys(jobDoneKey('risk-budget', '*'))).length;
      await waitFor(async () => kills >= 5 && (await doneTicks()) >= 5, { what: 'five ticks done and five kills', timeoutMs: 60_000 });
    } finally {
      monitor.stop();
    }
    // Stopped: a tick in hand either committed whole or left no violation and no done record.
    await runtime.stop();
    runtime = undefined;
    killer.disconnect();

    const done = (await redis.client.keys(jobDoneKey('risk-budget', '*'))).length;
    expect(await redis.client.xlen(streams.budgetViolation)).toBe(done);
    const written = await Promise.all(['BTCUSDT', ...flat].map((symbol) => redis.client.exists(keys.budget(symbol))));
    expect(written.every((n) => n === 1)).toBe(true);
  });
});
