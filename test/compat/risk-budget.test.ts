/**
 * Golden cases from the original P2.8 budget engine, microservices/portfolio_risk_governor/main.py
 * at ca9ec8239, each run through the real runtime against a private redis-server. Expected texts
 * are what that code writes (computed with CPython's float/str/json.dumps, FastAPI's
 * JSONResponse); each case names the function or line it comes from.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { httpPlugins } from '../../app/http-plugins.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';
import { untilKeys } from '../support/until.js';

const nowSec = () => Math.floor(Date.now() / 1000);

describe('P2.8 budget engine (compat, ca9ec8239)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  let heatServer: Server;
  let heatUrl: string;

  beforeAll(async () => {
    // fetch_portfolio_heat: GET HEAT_GATE_METRICS_URL, first line starting with "p26_heat_value".
    heatServer = createServer((_request, response) =>
      response.end('# HELP p26_heat_value Current portfolio heat value\n# TYPE p26_heat_value gauge\np26_heat_value 0.65\n'),
    );
    await new Promise<void>((resolve) => heatServer.listen(0, '127.0.0.1', resolve));
    heatUrl = `http://127.0.0.1:${(heatServer.address() as AddressInfo).port}/metrics`;
  });
  afterAll(() => new Promise<void>((resolve) => heatServer.close(() => resolve())));
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const start = (env: Record<string, string> = {}) =>
    startRuntime(
      redis.url,
      {
        HANDLERS: 'risk-budget,position-index',
        BUDGET_COMPUTE_INTERVAL_SEC: '1',
        POSITION_INDEX_REFRESH_SEC: '1',
        HEAT_GATE_METRICS_URL: heatUrl,
        ...env,
      },
      undefined,
      { httpPlugins },
    );
  const metricsText = async () => (await runtime!.server.inject({ url: '/metrics' })).body;
  const budgetOf = (symbol: string) => redis.client.hgetall(keys.budget(symbol));
  const waitForBudget = (symbol: string) =>
    untilKeys(redis.client, [keys.budget(symbol)], async () => ((await budgetOf(symbol)).budget_usd ? budgetOf(symbol) : undefined), {
      what: `${symbol} budget`,
    });

  /**
   * Equity 100000; BTCUSDT 50000 long (label NORMAL_VOL, sigma 0.025), ETHUSDT 500 short
   * (EXTREME_VOL), SOLUSDT only a Position Ledger hash with position_amt 0 (no market hash);
   * quantum:cluster:stress:default 0.25 and a cluster "alts" the original never read.
   */
  async function arrangeWorld() {
    const r = redis.client;
    await r.hset(keys.portfolioState, { equity_usd: '100000', drawdown: '0.01', timestamp: String(nowSec()) });
    await r.hset(keys.position('BTCUSDT'), { symbol: 'BTCUSDT', position_notional_usd: '50000', sigma: '1.3' });
    await r.hset(keys.position('ETHUSDT'), { symbol: 'ETHUSDT', position_notional_usd: '-500', sigma: '30' });
    await r.sadd(keys.activePositions, 'BTCUSDT', 'ETHUSDT');
    await r.hset(keys.p33PositionSnapshot('SOLUSDT'), { position_amt: '0', side: 'FLAT', mark_price: '150', ts_epoch: String(nowSec()) });
    // As a running deployment has it: the position-index job's SCAN of P3.3's hashes (ours; the
    // original ran KEYS every tick). Without it the first tick after the very first start may run
    // before the index's first refresh, and see SOLUSDT one refresh later (docs/risk-budget.md).
    await r.sadd(keys.p33PositionIndex, 'SOLUSDT');
    await r.hset(keys.marketState('BTCUSDT'), { vol_regime: 'NORMAL_VOL', sigma: '0.025', cluster_id: 'alts' });
    await r.hset(keys.marketState('ETHUSDT'), { vol_regime: 'EXTREME_VOL' });
    await r.hset(keys.clusterStress('default'), { stress: '0.25' });
    await r.hset(keys.clusterStress('alts'), { stress: '0.9' });
  }

  it('compute_and_publish_budget: the 10 fields as str() writes them, HSET + EXPIRE BUDGET_HASH_TTL_SEC', async () => {
    await arrangeWorld();
    // HSET mapping=... merges: a field someone else wrote stays (SOLUSDT below).
    await redis.client.hset(keys.budget('SOLUSDT'), { note: 'kept' });
    runtime = await start();

    const btc = await waitForBudget('BTCUSDT');
    // stress = 0.4*0.65 + 0.4*0.25 + 0.2*0.67 (fetch_vol_regime: "NORMAL" names none of
    // EXTREME/HIGH/LOW, so sigma 0.025 > 0.02 gives 0.67) → 0.494; budget 2000*(1-0.494) = 1012.0
    expect(btc).toEqual({
      symbol: 'BTCUSDT',
      budget_usd: '1012.0',
      stress_factor: '0.494',
      equity_usd: '100000.0',
      portfolio_heat: '0.65',
      cluster_stress: '0.25',
      vol_regime: '0.67',
      mode: 'shadow',
      timestamp: btc.timestamp,
      base_risk_pct: '0.02',
    });
    expect(Math.abs(Number(btc.timestamp) - nowSec())).toBeLessThanOrEqual(5); // str(int(time.time()))
    // EXTREME_VOL → 1.0: stress 0.56, str(2000.0 * 0.43999999999999995) = '879.9999999999999'
    expect(await waitForBudget('ETHUSDT')).toMatchObject({ budget_usd: '879.9999999999999', stress_factor: '0.56', vol_regime: '1.0' });
    // KEYS quantum:position:snapshot:* → SOLUSDT (position_amt 0 still a key); no market hash → 0.33
    expect(await waitForBudget('SOLUSDT')).toMatchObject({
      budget_usd: '1148.0000000000002',
      stress_factor: '0.426',
      vol_regime: '0.33',
      note: 'kept',
    });
    // await redis_client.expire(hash_key, BUDGET_HASH_TTL_SEC)  # TTL 5min (300s)
    const ttl = await redis.client.ttl(keys.budget('BTCUSDT'));
    expect(ttl).toBeGreaterThan(290);
    expect(ttl).toBeLessThanOrEqual(300);

    // check_budget_violation: {"json": json.dumps(event)} with maxlen=1000; ETHUSDT's 500 is inside 880.
    const entries = await readStream(redis.client, streams.budgetViolation);
    expect(entries.length).toBeGreaterThan(0);
    const first = entries[0]!;
    expect(Object.keys(first).filter((k) => k !== '_id')).toEqual(['json']);
    expect(first.json).toBe(
      `{"event_type": "budget.violation", "symbol": "BTCUSDT", "position_notional": 50000.0, "budget_usd": 1012.0, "over_budget": 48988.0, "mode": "shadow", "timestamp": ${JSON.parse(first.json!).timestamp as number}}`,
    );
    expect(entries.every((e) => (JSON.parse(e.json!) as { symbol: string }).symbol === 'BTCUSDT')).toBe(true);

    // metric_budget_computed / metric_budget_value / metric_stress_factor, labels ["symbol"]
    const text = await metricsText();
    expect(text).toMatch(/^p28_budget_computed_total\{symbol="SOLUSDT"\} [1-9]\d*$/m);
    expect(text).toMatch(/^p28_budget_value_usd\{symbol="BTCUSDT"\} 1012$/m);
    expect(text).toMatch(/^p28_stress_factor\{symbol="ETHUSDT"\} 0\.56$/m);
    expect(text).toMatch(/^p28_budget_blocks_total\{symbol="BTCUSDT"\} [1-9]\d*$/m);
    expect(text).toMatch(/^p28_budget_allow_total\{symbol="ETHUSDT"\} [1-9]\d*$/m);
  });

  it('fetch_cluster_stress: float(stress), unclamped; compute_stress_factor clamps the sum to 1.0', async () => {
    await arrangeWorld();
    await redis.client.hset(keys.clusterStress('default'), { stress: '4' });
    runtime = await start();
    expect(await waitForBudget('BTCUSDT')).toMatchObject({ cluster_stress: '4.0', stress_factor: '1.0', budget_usd: '500.0' });
  });

  it.each([
    { case: 'no equity_usd field: float(decoded.get("equity_usd", 0))', state: { drawdown: '0' }, equity: '0.0' },
    { case: 'negative equity', state: { equity_usd: '-5' }, equity: '-5.0' },
  ])('compute_budget: equity ≤ 0 gives MIN_BUDGET_K ($case)', async ({ state, equity }) => {
    await arrangeWorld();
    await redis.client.del(keys.portfolioState);
    await redis.client.hset(keys.portfolioState, { ...state, timestamp: String(nowSec()) });
    runtime = await start();
    expect(await waitForBudget('BTCUSDT')).toMatchObject({ equity_usd: equity, budget_usd: '500.0' });
  });

  it('fetch_portfolio_state → None: no budget, p28_stale_input_total{input_type="portfolio_state"} once per symbol; too-old only with a copy', async () => {
    await arrangeWorld();
    await redis.client.del(keys.portfolioState);
    runtime = await start();
    // "No portfolio state available (neither fresh nor cached)" → stale input per symbol, nothing else.
    const staleCount = async () =>
      Number(/^p28_stale_input_total\{input_type="portfolio_state"\} (\d+)/m.exec(await metricsText())?.[1] ?? 0);
    await waitFor(async () => (await staleCount()) >= 6, { what: 'two ticks of three symbols' });
    expect((await staleCount()) % 3).toBe(0);
    expect(await metricsText()).not.toMatch(/^p28_portfolio_too_old_total [1-9]/m);
    expect(await redis.client.exists(keys.budget('BTCUSDT'), keys.budget('ETHUSDT'), keys.budget('SOLUSDT'))).toBe(0);
    expect(await metricsText()).not.toMatch(/^p28_budget_computed_total/m);

    // A last-known-good copy older than MAX_LKG_AGE_SEC: "LKG cache too old ..., fail-open" per symbol.
    await redis.client.hset(keys.budgetPortfolioLkg, {
      equity_usd: '100000.0',
      drawdown: '0.0',
      timestamp: String(nowSec() - 2000),
      saved_at: String(nowSec() - 1000),
    });
    await waitFor(async () => /^p28_portfolio_too_old_total [1-9]/m.test(await metricsText()), { what: 'too-old count' });
    expect(Number(/^p28_portfolio_too_old_total (\d+)/m.exec(await metricsText())?.[1]) % 3).toBe(0);
  });

  it('metric names, types and labels of the original', async () => {
    await arrangeWorld();
    runtime = await start({ P28_MODE: 'enforce' });
    await waitForBudget('BTCUSDT');
    // State gone: the last-known-good copy serves (p28_lkg_cache_used_total), no stale input.
    await redis.client.del(keys.portfolioState);
    await waitFor(async () => /^p28_lkg_cache_used_total [1-9]/m.test(await metricsText()), { what: 'the copy used' });
    const text = await metricsText();
    expect(text).toMatch(/^p28_enforce_mode 1$/m); // metric_enforce_mode.set(1.0 if P28_MODE == "enforce" else 0.0)
    for (const [name, type] of [
      ['p28_enforce_mode', 'gauge'],
      ['p28_budget_computed_total', 'counter'],
      ['p28_budget_blocks_total', 'counter'],
      ['p28_budget_allow_total', 'counter'],
      ['p28_stale_input_total', 'counter'],
      ['p28_redis_write_fail_total', 'counter'],
      ['p28_budget_value_usd', 'gauge'],
      ['p28_stress_factor', 'gauge'],
      ['p28_lkg_cache_used_total', 'counter'],
      ['p28_portfolio_too_old_total', 'counter'],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}`);
    }
    // A labelled metric has no sample until first counted, as in prometheus_client.
    expect(text).not.toMatch(/^p28_stale_input_total\{/m);
  });

  describe('HTTP API (FastAPI app)', () => {
    const call = (method: 'GET' | 'POST' | 'PUT', url: string) => runtime!.server.inject({ method, url });

    it('GET /budget/{symbol}: the hash as decoded, in its field order; {"error": "no_budget_data"} with 200', async () => {
      await redis.client.hset(keys.budget('BTCUSDT'), 'symbol', 'BTCUSDT', 'budget_usd', '1348.0', 'mode', 'shadow', '1', 'x');
      runtime = await start({ HANDLERS: 'risk-budget' });
      const found = await call('GET', '/budget/BTCUSDT');
      expect([found.statusCode, found.headers['content-type'], found.body]).toEqual([
        200,
        'application/json',
        '{"symbol":"BTCUSDT","budget_usd":"1348.0","mode":"shadow","1":"x"}',
      ]);
      const missing = await call('GET', '/budget/XRPUSDT');
      expect([missing.statusCode, missing.body]).toEqual([200, '{"error":"no_budget_data"}']);
      // @app.get("/budget/{symbol}") also answers GET /budget/check (the POST route is another method).
      expect((await call('GET', '/budget/check')).body).toBe('{"error":"no_budget_data"}');
      // symbol: str — any text, lower case included.
      expect((await call('GET', '/budget/btc%20usdt')).body).toBe('{"error":"no_budget_data"}');
    });

    it.each([
      {
        case: 'over budget: over_budget = max(0.0, position_notional - budget_usd)',
        url: '/budget/check?symbol=BTCUSDT&position_notional=2000',
        body: '{"violation":true,"budget_usd":1348.0,"over_budget":652.0,"mode":"shadow","enforce":false}',
      },
      {
        case: 'a short is not abs()-ed: -1500 is within budget',
        url: '/budget/check?symbol=BTCUSDT&position_notional=-1500',
        body: '{"violation":false,"budget_usd":1348.0,"over_budget":0.0,"mode":"shadow","enforce":false}',
      },
      {
        case: 'a repeated parameter: the last value',
        url: '/budget/check?symbol=BTCUSDT&position_notional=1&position_notional=1_348.5',
        body: '{"violation":true,"budget_usd":1348.0,"over_budget":0.5,"mode":"shadow","enforce":false}',
      },
      {
        case: 'no hash: "no_budget_data_fail_open"',
        url: '/budget/check?symbol=XRPUSDT&position_notional=1e9',
        body: '{"violation":false,"budget_usd":null,"over_budget":0.0,"mode":"shadow","reason":"no_budget_data_fail_open"}',
      },
      {
        case: 'a hash without budget_usd: MAX_BUDGET_K',
        url: '/budget/check?symbol=NOBUDGET&position_notional=10',
        body: '{"violation":false,"budget_usd":10000.0,"over_budget":0.0,"mode":"shadow","enforce":false}',
      },
      {
        case: 'a budget_usd float() rejects: "error_fail_open: {e}"',
        url: '/budget/check?symbol=JUNK&position_notional=10',
        body: '{"violation":false,"budget_usd":null,"over_budget":0.0,"mode":"shadow","reason":"error_fail_open: could not convert string to float: \'lots\'"}',
      },
    ])('POST /budget/check: $case', async ({ url, body }) => {
      await redis.client.hset(keys.budget('BTCUSDT'), { symbol: 'BTCUSDT', budget_usd: '1348.0' });
      await redis.client.hset(keys.budget('NOBUDGET'), { symbol: 'NOBUDGET' });
      await redis.client.hset(keys.budget('JUNK'), { budget_usd: 'lots' });
      runtime = await start({ HANDLERS: 'risk-budget' });
      const response = await call('POST', url);
      expect([response.statusCode, response.body]).toEqual([200, body]);
    });

    it('POST /budget/check counts p28_budget_blocks_total only in enforce mode, p28_budget_allow_total otherwise', async () => {
      await redis.client.hset(keys.budget('BTCUSDT'), { budget_usd: '1348.0' });
      runtime = await start({ HANDLERS: 'risk-budget', P28_MODE: 'enforce' });
      expect((await call('POST', '/budget/check?symbol=BTCUSDT&position_notional=5000')).body).toBe(
        '{"violation":true,"budget_usd":1348.0,"over_budget":3652.0,"mode":"enforce","enforce":true}',
      );
      await call('POST', '/budget/check?symbol=BTCUSDT&position_notional=5');
      const text = await metricsText();
      expect(text).toMatch(/^p28_budget_blocks_total\{symbol="BTCUSDT"\} 1$/m);
      expect(text).toMatch(/^p28_budget_allow_total\{symbol="BTCUSDT"\} 1$/m);
    });

    it.each([
      {
        case: 'both parameters missing',
        url: '/budget/check',
        body: '{"detail":[{"type":"missing","loc":["query","symbol"],"msg":"Field required","input":null,"url":"https://errors.pydantic.dev/2.5/v/missing"},{"type":"missing","loc":["query","position_notional"],"msg":"Field required","input":null,"url":"https://errors.pydantic.dev/2.5/v/missing"}]}',
      },
      {
        case: 'a number float() rejects',
        url: '/budget/check?symbol=BTCUSDT&position_notional=lots',
        body: '{"detail":[{"type":"float_parsing","loc":["query","position_notional"],"msg":"Input should be a valid number, unable to parse string as a number","input":"lots","url":"https://errors.pydantic.dev/2.5/v/float_parsing"}]}',
      },
      {
        case: 'validation runs before the test-mode check',
        url: '/test/inject_portfolio_state',
        body: '{"detail":[{"type":"missing","loc":["query","equity_usd"],"msg":"Field required","input":null,"url":"https://errors.pydantic.dev/2.5/v/missing"}]}',
      },
    ])(
      "422 with FastAPI 0.109.0's detail list (pydantic 2.5.3's items, url included: ops/requirements-native-ai-engine.txt at ca9ec8239): $case",
      async ({ url, body }) => {
        runtime = await start({ HANDLERS: 'risk-budget' });
        const response = await call('POST', url);
        expect([response.statusCode, response.body]).toEqual([422, body]);
      },
    );

    it('405 {"detail":"Method Not Allowed"} for another method on a known path', async () => {
      runtime = await start({ HANDLERS: 'risk-budget' });
      for (const [method, url, allow] of [
        ['GET', '/test/inject_portfolio_state', 'POST'],
        ['POST', '/budget/BTCUSDT', 'GET'],
        ['PUT', '/budget/check', 'POST'],
      ] as const) {
        const response = await call(method, url);
        expect([response.statusCode, response.body, response.headers.allow]).toEqual([405, '{"detail":"Method Not Allowed"}', allow]);
      }
    });

    it('POST /test/inject_portfolio_state: 403 unless P28_TEST_MODE=1; then HSET each field, EXPIRE 120', async () => {
      runtime = await start({ HANDLERS: 'risk-budget' });
      const refused = await call('POST', '/test/inject_portfolio_state?equity_usd=1000');
      expect([refused.statusCode, refused.body]).toEqual([403, '{"detail":"Test mode not enabled (P28_TEST_MODE=0)"}']);
      expect(await redis.client.exists(keys.portfolioState)).toBe(0);
      await runtime.stop();

      runtime = await start({ HANDLERS: 'risk-budget', P28_TEST_MODE: '1' });
      const response = await call('POST', '/test/inject_portfolio_state?equity_usd=200000&drawdown=0.05');
      const state = await redis.client.hgetall(keys.portfolioState);
      expect(state).toEqual({ equity_usd: '200000.0', drawdown: '0.05', timestamp: state.timestamp });
      expect([response.statusCode, response.body]).toEqual([
        200,
        `{"success":true,"injected":{"equity_usd":"200000.0","drawdown":"0.05","timestamp":"${state.timestamp}"},"message":"Portfolio state injected (TTL 120s)"}`,
      ]);
      expect(await redis.client.ttl(keys.portfolioState)).toBeGreaterThan(110);
    });
  });
});
