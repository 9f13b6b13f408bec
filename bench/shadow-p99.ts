/**
 * `npx tsx bench/shadow-p99.ts`: the incumbent governor's latency with and without a shadow
 * beside it (issue #73: "never slows the incumbent"). One process from the sources, one private
 * redis-server; per run the plans of bench/governor-plans.ts over a 20-symbol book, sent one by one
 * at SHADOW_BENCH_RATE a second (default 50), SHADOW_BENCH_PLANS of them (default 1500). A plan's
 * latency is its decision event's stream id minus its own (both Redis's clock): what the pipeline
 * waits. Runs alternate without / with the shadow (its governor, same settings), SHADOW_BENCH_RUNS
 * times each (default 2); the figures to compare are the mean (of whole milliseconds) and p99 against
 * the same without the shadow, on the same machine at the same time.
 * SHADOW_BENCH_PROCESS=1 runs the shadow as the unit does instead: its own process
 * (`quantum-gates shadow --beside current --gate governor`) at `nice -n 10`
 * (deploy/systemd/quantum-gates-shadow.service: Nice=10).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as wait } from 'node:timers/promises';
import { allHandlers } from '../handlers/index.js';
import { governor } from '../handlers/governor/index.js';
import { redisTape } from '../app/tape/store.js';
import { ShadowHost } from '../app/shadow/host.js';
import { systemClock } from '../runtime/host/index.js';
import { streams } from '../schemas/keys.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { createTestRuntime, waitFor } from '../test/support/runtime.js';
import { planFields, seedPortfolio } from './governor-plans.js';

const PLANS = Number(process.env.SHADOW_BENCH_PLANS ?? 1500);
const RATE = Number(process.env.SHADOW_BENCH_RATE ?? 50);
const runs = Number(process.env.SHADOW_BENCH_RUNS ?? 2);
const ownProcess = process.env.SHADOW_BENCH_PROCESS === '1';

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

const redis = await startTestRedis();
try {
  const results: Record<'without' | 'with', { mean: number; p50: number; p99: number; max: number; shadowDecided: number }[]> = {
    without: [],
    with: [],
  };
  for (let run = 0; run < runs; run++)
    for (const mode of ['without', 'with'] as const) {
      const r = redis.client;
      await r.flushall();
      await seedPortfolio(r, 20);
      const env = { HANDLERS: 'governor', GOV_MAX_PLAN_AGE_SEC: '0' };
      const runtime = await createTestRuntime(redis.url, env, allHandlers, { tape: redisTape(env)! });
      await runtime.start();
      let shadow: ShadowHost | undefined;
      let shadowProcess: ChildProcess | undefined;
      if (mode === 'with' && ownProcess) {
        const cli = new URL('../bin/quantum-gates.js', import.meta.url).pathname;
        shadowProcess = spawn(
          'nice',
          ['-n', '10', process.execPath, cli, 'shadow', '--beside', 'current', '--gate', 'governor', '--port', '0'],
          {
            env: { ...process.env, ...env, REDIS_URL: redis.url },
            stdio: 'ignore',
          },
        );
        await waitFor(async () => (await r.hget('quantum:shadow:state', 'governor:since')) !== null, { timeoutMs: 60_000 });
      } else if (mode === 'with') {
        shadow = new ShadowHost({ base: r, handlers: [governor], env, host: systemClock, consumer: 'bench-shadow' });
        shadow.start();
        await waitFor(async () => (await r.hget('quantum:shadow:state', 'governor:since')) !== null);
      }
      const sentAt = new Map<string, number>();
      for (let n = 0; n < PLANS; n++) {
        const fields = planFields(n);
        const id = (await r.xadd(streams.applyPlan, '*', ...fields))!;
        sentAt.set(fields[fields.indexOf('plan_id') + 1]!, Number(id.split('-')[0]));
        await wait(1000 / RATE);
      }
      await waitFor(async () => (await r.xlen(streams.governorEvents)) >= PLANS || undefined, { timeoutMs: 120_000, intervalMs: 100 });
      const latencies: number[] = [];
      for (const [id, fields] of await r.xrange(streams.governorEvents, '-', '+')) {
        const planId = fields[fields.indexOf('plan_id') + 1]!;
        const at = sentAt.get(planId);
        if (at !== undefined) latencies.push(Number(id.split('-')[0]) - at);
      }
      const shadowDecided = shadow?.gates[0]?.decided ?? Number((await r.hget('quantum:shadow:summary', 'compared')) ?? 0);
      if (shadowProcess) {
        shadowProcess.kill('SIGTERM');
        await once(shadowProcess, 'exit');
      }
      await shadow?.stop();
      await shadow?.close();
      await runtime.stop();
      latencies.sort((a, b) => a - b);
      // The mean of whole milliseconds: where p50 moves by less than its 1 ms step, the mean still shows it.
      const mean = latencies.reduce((sum, ms) => sum + ms, 0) / latencies.length;
      results[mode].push({ mean, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1)!, shadowDecided });
    }
  for (const mode of ['without', 'with'] as const)
    console.log(
      `${mode} the shadow: ${results[mode].map((x) => `mean ${x.mean.toFixed(2)} ms, p50 ${x.p50} ms, p99 ${x.p99} ms, max ${x.max} ms${mode === 'with' ? ` (shadow decided ${x.shadowDecided})` : ''}`).join(' | ')}`,
    );
  console.log(
    `${PLANS} plans at ${RATE}/s per run; the shadow ${ownProcess ? 'its own process at nice 10' : 'in the incumbent’s process'}; latency = decision event's stream id − plan's (Redis's clock, ms resolution)`,
  );
} finally {
  await redis.stop();
}
