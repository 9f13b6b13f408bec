import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { jobDoneKey } from '../../runtime/engine/idempotency.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';
import { untilKeys } from '../support/until.js';
import { monitorLines } from '../support/monitor-lines.js';

const nowSec = () => Math.floor(Date.now() / 1000);

describe('risk-budget on a real redis-server', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    // Stopping within milliseconds of start races BullMQ's blocking connection still connecting
    // (an unhandled "Connection is closed"; reported as a runtime issue): let one tick finish first.
    if (runtime) await waitFor(async () => (await redis.client.keys(jobDoneKey('risk-budget', '*'))).length > 0, { what: 'first tick' });
    await runtime?.stop();
    runtime = undefined;
  });

  const start = (env: Record<string, string> = {}) =>
    // The budget API is the gate's own declared routes: hosting the gate serves it.
    startRuntime(redis.url, { HANDLERS: 'risk-budget', BUDGET_COMPUTE_INTERVAL_SEC: '1', ...env });

  /** Equity 100k; BTCUSDT 50k × 1.3 and ETHUSDT 500 × 30 → heat (65 000 + 15 000) / 100 000 = 0.8. */
  async function arrangePortfolio(equity = 100_000) {
    const r = redis.client;
    await r.hset(keys.portfolioState, { equity_usd: String(equity), drawdown: '0.01', timestamp: String(nowSec()) });
    await r.hset(keys.position('BTCUSDT'), { symbol: 'BTCUSDT', position_notional_usd: '50000', sigma: '1.3' });
    await r.hset(keys.position('ETHUSDT'), { symbol: 'ETHUSDT', position_notional_usd: '-500', sigma: '30' });
    await r.sadd(keys.activePositions, 'BTCUSDT', 'ETHUSDT');
    await r.hset(keys.marketState('BTCUSDT'), { vol_regime: 'NORMAL_VOL' });
    await r.hset(keys.marketState('ETHUSDT'), { vol_regime: 'EXTREME_VOL' });
  }

  const budgetOf = (symbol: string) => redis.client.hgetall(keys.budget(symbol));
  /** The budget of `symbol` once a tick has written one. */
  const untilBudget = (symbol: string, what: string) =>
    untilKeys(
      redis.client,
      [keys.budget(symbol)],
      async () => {
        const budget = await budgetOf(symbol);
        return budget.budget_usd ? budget : undefined;
      },
      { what },
    );

  it('computes budgets for every active symbol on a scheduled tick, emits violations and saves last-known-good', async () => {
    await arrangePortfolio();
    runtime = await start();

    const btc = await untilBudget('BTCUSDT', 'BTCUSDT budget');
    // BTC: stress 0.4·0.8 + 0.2·0.33 → Python: 0.38600000000000007, 2000 × (1 − it) = 1227.9999999999998.
    expect(btc).toEqual({
      symbol: 'BTCUSDT',
      budget_usd: '1227.9999999999998',
      stress_factor: '0.38600000000000007',
      equity_usd: '100000.0',
      portfolio_heat: '0.8',
      cluster_stress: '0.0',
      vol_regime: '0.33',
      mode: 'shadow',
      timestamp: btc.timestamp,
      base_risk_pct: '0.02',
    });
    expect(Math.abs(Number(btc.timestamp) - nowSec())).toBeLessThan(10);
    // ETH: stress 0.32 + 0.2 = 0.52 → 960; |−500| is inside it.
    // Written by the same tick, in the same commit.
    expect((await budgetOf('ETHUSDT')).budget_usd).toBe('960.0');
    const ttl = await redis.client.ttl(keys.budget('BTCUSDT'));
    expect(ttl).toBeGreaterThan(290);
    expect(ttl).toBeLessThanOrEqual(300);

    const events = (await readStream(redis.client, streams.budgetViolation)).map((e) => JSON.parse(e.json!) as Record<string, unknown>);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.symbol === 'BTCUSDT')).toBe(true);
    expect(events[0]).toMatchObject({
      symbol: 'BTCUSDT',
      position_notional: 50_000,
      budget_usd: 1227.9999999999998,
      over_budget: 48_772,
      mode: 'shadow',
    });
    expect(await redis.client.hget(keys.budgetPortfolioLkg, 'equity_usd')).toBe('100000.0');

    const metrics = (await runtime.server.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^p28_enforce_mode 0$/m);
    expect(metrics).toMatch(/^p28_budget_value_usd\{symbol="BTCUSDT"\} 1227.9999999999998$/m);
    expect(metrics).toMatch(/^p28_stress_factor\{symbol="ETHUSDT"\} 0\.52$/m);
    expect(metrics).toMatch(/^p28_budget_computed_total\{symbol="BTCUSDT"\} [1-9]\d*$/m);
    for (const name of [
      'p28_enforce_mode',
      'p28_redis_write_fail_total',
      'p28_budget_computed_total',
      'p28_budget_value_usd',
      'p28_stress_factor',
      'p28_budget_blocks_total',
      'p28_budget_allow_total',
      'p28_lkg_cache_used_total',
      'p28_portfolio_too_old_total',
    ]) {
      expect(metrics).toContain(`# TYPE ${name} `);
    }
  });

  it('writes a large universe’s budgets a slice at a time, the violation and the done record in the call after them', async () => {
    await arrangePortfolio();
    const flat = Array.from({ length: 400 }, (_, i) => `FLAT${i}USDT`);
    await redis.client.sadd(keys.p33PositionIndex, ...flat);
    // Every commit script call Redis runs, as the budgets, events and done records it carries.
    const calls: { budgets: number; violations: number; done: number }[] = [];
    const monitor = await monitorLines(redis.url, (line) => {
      if (!/^\+[\d.]+ \[[^\]]*\] "eval(sha)?" /i.test(line) || !line.includes('"[[')) return;
      // MONITOR prints the script's JSON argument with its quotes escaped.
      const count = (command: string, keyPrefix: string) => line.split(`[\\"${command}\\",\\"${keyPrefix}`).length - 1;
      calls.push({
        budgets: count('HSET', keys.budget('')),
        violations: count('XADD', streams.budgetViolation),
        done: count('SET', jobDoneKey('risk-budget', '')),
      });
    });
    try {
      runtime = await start();
      await untilBudget('FLAT399USDT', 'the 400th flat symbol’s budget');
      await waitFor(async () => calls.some((call) => call.done > 0), { what: 'the first tick’s done record' });
    } finally {
      monitor.stop();
    }
    const first = calls.slice(0, calls.findIndex((call) => call.done > 0) + 1);
    // 402 budgets (HSET, EXPIRE each, the gate's own keys), 256 commands a call; then the last-known-good
    // portfolio (the gate's state, not its own key), the violation and the done record.
    expect(first.map((call) => call.budgets)).toEqual([128, 128, 128, 18, 0]);
    expect(first.at(-1)).toEqual({ budgets: 0, violations: 1, done: 1 });
  });

  it('falls back to last-known-good when the state goes stale, then writes nothing once it is too old', async () => {
    await arrangePortfolio();
    runtime = await start({ MAX_LKG_AGE_SEC: '60' });
    await untilKeys(redis.client, [keys.budgetPortfolioLkg], () => redis.client.hget(keys.budgetPortfolioLkg, 'equity_usd'), {
      what: 'last-known-good saved',
    });

    // Stale state with different equity: the budgets keep the saved equity.
    await redis.client.hset(keys.portfolioState, { equity_usd: '1', timestamp: String(nowSec() - 45) });
    await waitFor(async () => /^p28_lkg_cache_used_total [1-9]/m.test((await runtime!.server.inject({ url: '/metrics' })).body), {
      what: 'copy used',
    });
    await redis.client.del(keys.budget('BTCUSDT'));
    const fromLkg = await untilBudget('BTCUSDT', 'a budget from last-known-good');

    expect(fromLkg).toMatchObject({ equity_usd: '100000.0', budget_usd: '1227.9999999999998' });

    // Copy saved longer than MAX_LKG_AGE_SEC ago: no budgets at all (fail-open).
    await redis.client.hset(keys.budgetPortfolioLkg, 'saved_at', String(nowSec() - 120));
    await redis.client.del(keys.budget('BTCUSDT'), keys.budget('ETHUSDT'));
    await waitFor(async () => /^p28_portfolio_too_old_total [1-9]/m.test((await runtime!.server.inject({ url: '/metrics' })).body), {
      what: 'too-old count',
    });
    expect(await redis.client.exists(keys.budget('BTCUSDT'), keys.budget('ETHUSDT'))).toBe(0);
  });

  // The original's API answers are golden cases in test/compat/risk-budget.test.ts; this is ours.
  describe('HTTP API: the cross-site refusal (a deliberate deviation)', () => {
    it.each([
      ['a page on another site (Origin)', { origin: 'http://evil.example' }],
      ['a browser marking it cross-site (Sec-Fetch-Site)', { 'sec-fetch-site': 'cross-site' }],
      ['a sandboxed frame (Origin: null)', { origin: 'null' }],
      [
        'a text/plain POST from another site (no preflight), with the figures in the query',
        { origin: 'http://evil.example', 'content-type': 'text/plain' },
      ],
    ] as [string, Record<string, string>][])(
      'POST /test/inject_portfolio_state refuses %s even in test mode, and says how to call it',
      async (_name, headers) => {
        runtime = await start({ P28_TEST_MODE: '1' });
        const payload = headers['content-type'] === 'text/plain' ? 'x' : '';
        const response = await runtime.server.inject({
          method: 'POST',
          url: '/test/inject_portfolio_state?equity_usd=1',
          headers,
          payload,
        });
        expect(response.statusCode).toBe(403);
        expect(response.json().detail).toMatch(/^cross_site_refused: .*curl -X POST/);
        expect(await redis.client.exists(keys.portfolioState)).toBe(0);
      },
    );

    it('POST /test/inject_portfolio_state accepts the same origin', async () => {
      runtime = await start({ P28_TEST_MODE: '1' });
      const response = await runtime.server.inject({
        method: 'POST',
        url: '/test/inject_portfolio_state?equity_usd=1000',
        headers: { origin: 'http://localhost:80', host: 'localhost:80', 'sec-fetch-site': 'same-origin' },
      });
      expect(response.statusCode).toBe(200);
    });
  });
});
