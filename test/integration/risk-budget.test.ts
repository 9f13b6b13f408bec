import { afterEach, describe, expect, it } from 'vitest';
import { budgetApi } from '../../runtime/http/budget-api.js';
import type { Runtime } from '../../runtime/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';

const nowSec = () => Math.floor(Date.now() / 1000);

describe('risk-budget on a real redis-server', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    // Stopping within milliseconds of start races BullMQ's blocking connection still connecting
    // (an unhandled "Connection is closed"; reported as a runtime issue): let one tick finish first.
    if (runtime) await waitFor(async () => (await redis.client.keys(keys.budgetTickDone('*'))).length > 0, { what: 'first tick' });
    await runtime?.stop();
    runtime = undefined;
  });

  const start = (env: Record<string, string> = {}) =>
    startRuntime(redis.url, { HANDLERS: 'risk-budget', BUDGET_COMPUTE_INTERVAL_SEC: '1', ...env }, undefined, { httpPlugins: (s) => [budgetApi(s)] });

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

  it('computes budgets for every active symbol on a scheduled tick, emits violations and saves last-known-good', async () => {
    await arrangePortfolio();
    runtime = await start();

    const btc = await waitFor(async () => ((await budgetOf('BTCUSDT')).budget_usd ? budgetOf('BTCUSDT') : undefined), { what: 'BTCUSDT budget' });
    // BTC: stress 0.4·0.8 + 0.2·0.33 = 0.386 → 2000 × 0.614 = 1228.
    expect(btc).toMatchObject({
      symbol: 'BTCUSDT',
      budget_usd: '1228',
      stress_factor: '0.386',
      equity_usd: '100000',
      portfolio_heat: '0.8',
      cluster_stress: '0',
      vol_regime: '0.33',
      mode: 'shadow',
      base_risk_pct: '0.02',
      portfolio_source: 'fresh',
    });
    expect(btc.tick_id).toMatch(/^repeat:risk-budget:tick:\d+$/);
    expect(Math.abs(Number(btc.timestamp) - nowSec())).toBeLessThan(10);
    // ETH: stress 0.32 + 0.2 = 0.52 → 960; |−500| is inside it.
    expect(await waitFor(async () => (await budgetOf('ETHUSDT')).budget_usd, { what: 'ETHUSDT budget' })).toBe('960');
    const ttl = await redis.client.ttl(keys.budget('BTCUSDT'));
    expect(ttl).toBeGreaterThan(290);
    expect(ttl).toBeLessThanOrEqual(300);

    const events = (await readStream(redis.client, streams.budgetViolation)).map((e) => JSON.parse(e.json!) as Record<string, unknown>);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.symbol === 'BTCUSDT')).toBe(true);
    expect(events[0]).toMatchObject({ symbol: 'BTCUSDT', position_notional: 50_000, budget_usd: 1228, over_budget: 48_772, mode: 'shadow' });
    expect(await redis.client.hget(keys.budgetPortfolioLkg, 'equity_usd')).toBe('100000');

    const metrics = (await runtime.server.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^p28_enforce_mode 0$/m);
    expect(metrics).toMatch(/^p28_budget_value_usd\{symbol="BTCUSDT"\} 1228$/m);
    expect(metrics).toMatch(/^p28_stress_factor\{symbol="ETHUSDT"\} 0\.52$/m);
    expect(metrics).toMatch(/^p28_budget_computed_total\{symbol="BTCUSDT"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^p28_stale_input_total\{input_type="portfolio_state"\} 0$/m);
    for (const name of [
      'p28_enforce_mode',
      'p28_redis_write_fail_total',
      'p28_budget_computed_total',
      'p28_budget_value_usd',
      'p28_stress_factor',
      'p28_budget_blocks_total',
      'p28_budget_allow_total',
      'p28_stale_input_total',
      'p28_lkg_cache_used_total',
      'p28_portfolio_too_old_total',
    ]) {
      expect(metrics).toContain(`# TYPE ${name} `);
    }
  });

  it('falls back to last-known-good when the state goes stale, then writes nothing once it is too old', async () => {
    await arrangePortfolio();
    runtime = await start({ MAX_LKG_AGE_SEC: '60' });
    await waitFor(() => redis.client.hget(keys.budgetPortfolioLkg, 'equity_usd'), { what: 'last-known-good saved' });

    // Stale state with different equity: the budgets keep the saved equity.
    await redis.client.hset(keys.portfolioState, { equity_usd: '1', timestamp: String(nowSec() - 45) });
    const fromLkg = await waitFor(async () => {
      const budget = await budgetOf('BTCUSDT');
      return budget.portfolio_source === 'lkg' ? budget : undefined;
    }, { what: 'a budget from last-known-good' });
    expect(fromLkg).toMatchObject({ equity_usd: '100000', budget_usd: '1228' });

    // Copy older than MAX_LKG_AGE_SEC: no budgets at all (fail-open).
    await redis.client.hset(keys.budgetPortfolioLkg, 'timestamp', String(nowSec() - 120));
    await redis.client.del(keys.budget('BTCUSDT'), keys.budget('ETHUSDT'));
    await waitFor(async () => /^p28_portfolio_too_old_total [1-9]/m.test((await runtime!.server.inject({ url: '/metrics' })).body), { what: 'too-old count' });
    expect(await redis.client.exists(keys.budget('BTCUSDT'), keys.budget('ETHUSDT'))).toBe(0);
  });

  describe('HTTP API', () => {
    it('GET /budget/:symbol returns the hash, 404 without one, 400 naming a bad symbol', async () => {
      await redis.client.hset(keys.budget('BTCUSDT'), { symbol: 'BTCUSDT', budget_usd: '1348', mode: 'shadow' });
      runtime = await start();
      const ok = await runtime.server.inject({ method: 'GET', url: '/budget/BTCUSDT' });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ symbol: 'BTCUSDT', budget_usd: '1348', mode: 'shadow' });
      const missing = await runtime.server.inject({ method: 'GET', url: '/budget/XRPUSDT' });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toEqual({ error: 'no_budget_data', symbol: 'XRPUSDT' });
      const bad = await runtime.server.inject({ method: 'GET', url: '/budget/not%20a%20symbol' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ error: 'invalid_request', field: 'symbol' });
    });

    it.each([
      { case: 'a position over budget is a violation', body: { symbol: 'BTCUSDT', position_notional: 2000 }, reply: { violation: true, budget_usd: 1348, over_budget: 652 } },
      { case: 'a short over budget is a violation', body: { symbol: 'BTCUSDT', position_notional: -1500 }, reply: { violation: true, over_budget: 152 } },
      { case: 'a position at the budget is not', body: { symbol: 'BTCUSDT', position_notional: 1348 }, reply: { violation: false, over_budget: 0 } },
      { case: 'a numeric string is accepted', body: { symbol: 'BTCUSDT', position_notional: '100' }, reply: { violation: false, budget_usd: 1348 } },
      { case: 'no budget fails open', body: { symbol: 'XRPUSDT', position_notional: 1e9 }, reply: { violation: false, budget_usd: null, reason: 'no_budget_data_fail_open' } },
    ])('POST /budget/check: $case', async ({ body, reply }) => {
      await redis.client.hset(keys.budget('BTCUSDT'), { symbol: 'BTCUSDT', budget_usd: '1348', timestamp: String(nowSec()) });
      runtime = await start();
      const response = await runtime.server.inject({ method: 'POST', url: '/budget/check', payload: body });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ ...reply, mode: 'shadow' });
    });

    it('POST /budget/check counts blocks only in enforce mode', async () => {
      await redis.client.hset(keys.budget('BTCUSDT'), { symbol: 'BTCUSDT', budget_usd: '1348' });
      runtime = await start({ P28_MODE: 'enforce' });
      const response = await runtime.server.inject({ method: 'POST', url: '/budget/check', payload: { symbol: 'BTCUSDT', position_notional: 5000 } });
      expect(response.json()).toMatchObject({ violation: true, mode: 'enforce', enforce: true });
      expect((await runtime.server.inject({ url: '/metrics' })).body).toMatch(/^p28_budget_blocks_total\{symbol="BTCUSDT"\} 1$/m);
    });

    it.each([
      { case: 'a missing position_notional', payload: { symbol: 'BTCUSDT' }, field: 'position_notional' },
      { case: 'a non-numeric position_notional', payload: { symbol: 'BTCUSDT', position_notional: 'lots' }, field: 'position_notional' },
      { case: 'a lower-case symbol', payload: { symbol: 'btc', position_notional: 1 }, field: 'symbol' },
      { case: 'a body that is not an object', payload: [1, 2], field: '(body)' },
    ])('POST /budget/check answers 400 naming the field for $case', async ({ payload, field }) => {
      runtime = await start();
      const response = await runtime.server.inject({ method: 'POST', url: '/budget/check', payload });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: 'invalid_request', field });
      expect(response.json().message).toContain(field);
    });

    it('POST /test/inject_portfolio_state answers 403 unless P28_TEST_MODE=1', async () => {
      runtime = await start();
      const response = await runtime.server.inject({ method: 'POST', url: '/test/inject_portfolio_state', payload: { equity_usd: 1 } });
      expect(response.statusCode).toBe(403);
      expect(await redis.client.exists(keys.portfolioState)).toBe(0);
    });

    it.each([
      ['a page on another site (Origin)', { origin: 'http://evil.example' }],
      ['a browser marking it cross-site (Sec-Fetch-Site)', { 'sec-fetch-site': 'cross-site' }],
      ['a sandboxed frame (Origin: null)', { origin: 'null' }],
      ['a text/plain POST from another site (no preflight), with the figures in the query', { origin: 'http://evil.example', 'content-type': 'text/plain' }],
    ] as [string, Record<string, string>][])('POST /test/inject_portfolio_state refuses %s even in test mode, and says how to call it', async (_name, headers) => {
      runtime = await start({ P28_TEST_MODE: '1' });
      const payload = headers['content-type'] === 'text/plain' ? 'x' : { equity_usd: 1 };
      const response = await runtime.server.inject({ method: 'POST', url: '/test/inject_portfolio_state?equity_usd=1', headers, payload });
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ error: 'cross_site_refused' });
      expect(response.json().detail).toMatch(/curl -X POST/);
      expect(await redis.client.exists(keys.portfolioState)).toBe(0);
    });

    it('POST /test/inject_portfolio_state accepts the same origin', async () => {
      runtime = await start({ P28_TEST_MODE: '1' });
      const response = await runtime.server.inject({
        method: 'POST',
        url: '/test/inject_portfolio_state',
        headers: { origin: 'http://localhost:80', host: 'localhost:80', 'sec-fetch-site': 'same-origin' },
        payload: { equity_usd: 1000 },
      });
      expect(response.statusCode).toBe(200);
    });

    it('POST /test/inject_portfolio_state writes the state with timestamp now, and the next tick uses it', async () => {
      await arrangePortfolio();
      runtime = await start({ P28_TEST_MODE: '1' });
      const bad = await runtime.server.inject({ method: 'POST', url: '/test/inject_portfolio_state', payload: { equity_usd: -5 } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ field: 'equity_usd' });

      const response = await runtime.server.inject({ method: 'POST', url: '/test/inject_portfolio_state', payload: { equity_usd: 200_000, drawdown: 0.05 } });
      expect(response.statusCode).toBe(200);
      const state = await redis.client.hgetall(keys.portfolioState);
      expect(state).toMatchObject({ equity_usd: '200000', drawdown: '0.05' });
      expect(Math.abs(Number(state.timestamp) - nowSec())).toBeLessThanOrEqual(2);
      expect(await redis.client.ttl(keys.portfolioState)).toBeGreaterThan(100);
      // heat (65 000 + 15 000) / 200 000 = 0.4 → stress 0.226 → 4000 × 0.774 = 3096
      await waitFor(async () => (await budgetOf('BTCUSDT')).budget_usd === '3096', { what: 'budget from the injected equity' });
    });
  });
});
