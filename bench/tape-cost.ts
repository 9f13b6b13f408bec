/**
 * `npx tsx bench/tape-cost.ts`: what keeping the tape costs the governor draining a backlog (the
 * plans of bench/governor-plans.ts over a 20-symbol book, as `npm run bench`'s governor section),
 * in one process from the sources, with the tape (TAPE_MAXLEN's default) and without (0),
 * alternating, TAPE_COST_RUNS times each (default 2). Plans per second from the first decision to
 * the last; the figure to compare is the ratio, on the same machine at the same time.
 */
import { allHandlers } from '../handlers/index.js';
import { redisTape } from '../app/tape/store.js';
import { streams } from '../schemas/keys.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { createTestRuntime, waitFor } from '../test/support/runtime.js';
import { seedPortfolio, writeGovernorPlans } from './governor-plans.js';

const PLANS = Number(process.env.TAPE_COST_PLANS ?? 5000);
const runs = Number(process.env.TAPE_COST_RUNS ?? 2);
const redis = await startTestRedis();
try {
  const rates: Record<string, number[]> = { off: [], on: [] };
  for (let run = 0; run < runs; run++)
    for (const mode of ['off', 'on'] as const) {
      await redis.client.flushall();
      await seedPortfolio(redis.client, 20);
      await writeGovernorPlans(redis.client, PLANS);
      const env = { HANDLERS: 'governor', GOV_MAX_PLAN_AGE_SEC: '0', TAPE_MAXLEN: mode === 'on' ? '80000' : '0' };
      const tape = redisTape(env);
      const runtime = await createTestRuntime(redis.url, env, allHandlers, tape ? { tape } : {});
      await runtime.start();
      const first = await waitFor(async () => (await redis.client.xrange(streams.governorEvents, '-', '+', 'COUNT', 1))[0], {
        timeoutMs: 60_000,
      });
      await waitFor(async () => (await redis.client.xlen(streams.governorEvents)) >= PLANS || undefined, {
        timeoutMs: 300_000,
        intervalMs: 100,
      });
      const [last] = await redis.client.xrevrange(streams.governorEvents, '+', '-', 'COUNT', 1);
      const seconds = (Number(last![0].split('-')[0]) - Number(first[0].split('-')[0])) / 1000;
      rates[mode]!.push(PLANS / seconds);
      await runtime.stop();
    }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    `governor draining ${PLANS} plans: without the tape ${rates.off!.map((r) => r.toFixed(0)).join(', ')} plans/s, ` +
      `with it ${rates.on!.map((r) => r.toFixed(0)).join(', ')} plans/s (${((mean(rates.on!) / mean(rates.off!) - 1) * 100).toFixed(0)} %)`,
  );
} finally {
  await redis.stop();
}
