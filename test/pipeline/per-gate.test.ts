/**
 * The per-gate deployment (deploy/env/gates-*.env: one process per gate, as the Python services
 * ran): the budget engine scrapes the heat gate's p26_heat_value over HTTP
 * (HEAT_GATE_METRICS_URL), as the original P2.8 did. Seed 003 says the heat metric updates every
 * 10 s, so budgets carry the real heat before the kernel has proposed anything (issue #22 item 8:
 * the gauge stayed 0 until the first proposal, and every budget was computed with heat 0).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime } from '../support/runtime.js';
import { untilKeys } from '../support/until.js';
import { eras, type Era } from './producers/upstream.js';
import { expectedHeat, open, writeProducerState } from './traffic.js';

describe.each(eras)('the per-gate processes, %s era', (era: Era) => {
  let redis: TestRedis;
  let r: Redis;
  const runtimes: Runtime[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    r = redis.client;
    await writeProducerState(r, era, Date.now());
    const start = async (env: Record<string, string>) => {
      const runtime = await createTestRuntime(redis.url, env);
      runtimes.push(runtime);
      return runtime.start();
    };
    await start({ HANDLERS: 'position-snapshot,position-index' });
    const heatGate = await start({ HANDLERS: 'heat-gate' });
    await start({ HANDLERS: 'risk-budget', HEAT_GATE_METRICS_URL: `${heatGate}/metrics` });
  }, 60_000);

  afterAll(async () => {
    for (const runtime of runtimes) await runtime.stop();
    await redis?.stop();
  });

  it('every position gets a budget computed with the heat of the real positions, no proposal needed', async () => {
    const budgets = await untilKeys(
      r,
      open.map((p) => keys.budget(p.symbol)),
      async () => {
        const all = await Promise.all(open.map(async (p) => [p.symbol, await r.hget(keys.budget(p.symbol), 'portfolio_heat')] as const));
        return all.every(([, heat]) => heat !== null && Number(heat) > 0) ? all : undefined;
      },
      { timeoutMs: 30_000, what: 'budgets with a non-zero heat for every position' },
    );
    for (const [symbol, heat] of budgets) expect([symbol, Number(heat)]).toEqual([symbol, expect.closeTo(expectedHeat, 6)]);
  });
});
