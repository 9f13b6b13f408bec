/**
 * GET /health as each original service answered it, through the real runtime against a private
 * redis-server: P2.8 (FastAPI, ca9ec8239 `@app.get("/health")`), P2.7 (3eb5fe66b HealthHandler on
 * P27_HEALTH_PORT), P2.6 (1370c1def) and P3.2 (8f5055c52), whose only server was prometheus_client's
 * start_http_server, which answers every path with the metrics. And the ports of deploy/env.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpPlugins } from '../../app/http-plugins.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { createTestRuntime, startRuntime } from '../support/runtime.js';
import { afterRepliesSent, untilKeys } from '../support/until.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('/health of the originals (compat)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });
  const start = (env: Record<string, string>) => startRuntime(redis.url, env, undefined, { httpPlugins });
  const get = (url: string) => runtime!.server.inject({ url });

  it('P2.8: 200 {"status":"healthy","service":"p2.8-portfolio-risk-governor","mode":P28_MODE,"redis":"connected"}', async () => {
    runtime = await start({ HANDLERS: 'risk-budget', P28_MODE: 'enforce' });
    const response = await get('/health');
    expect([response.statusCode, response.headers['content-type'], response.body]).toEqual([
      200,
      'application/json',
      '{"status":"healthy","service":"p2.8-portfolio-risk-governor","mode":"enforce","redis":"connected"}',
    ]);
  });

  it('P2.8: 503 {"detail":"Unhealthy: ..."} when Redis does not answer PING (HTTPException(503))', async () => {
    const closed = await freePort();
    // Not started: nothing waits for Redis, the server answers at once.
    runtime = await createTestRuntime(`redis://127.0.0.1:${closed}`, { HANDLERS: 'risk-budget', REDIS_CONNECT_TIMEOUT_MS: '200' });
    const response = await runtime.server.inject({ url: '/health' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ detail: expect.stringMatching(/^Unhealthy: /) });
  });

  it('P2.7: GET /health on P27_HEALTH_PORT → json.dumps({"status", "last_ts_epoch", "last_loop_ms", "backlog"}); other paths 404', async () => {
    const port = await freePort();
    runtime = await start({ HANDLERS: 'heat-bridge', P27_HEALTH_PORT: String(port) });
    const base = `http://127.0.0.1:${port}`;
    const body = async () => {
      const response = await fetch(`${base}/health`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      return response.text();
    };
    expect(await body()).toMatch(/^\{"status": "ok", "last_ts_epoch": 0, "last_loop_ms": \d+, "backlog": 0\}$/);

    // process_message: p27_last_ts_epoch = int(ts_epoch) of the last decision processed.
    await redis.client.xadd(
      streams.heatDecision,
      '*',
      'plan_id',
      'p-health-1',
      'symbol',
      'BTCUSDT',
      'ts_epoch',
      '1700000000',
      'out_action',
      'PARTIAL_25',
    );
    // The decision's lookup hash and its p27_last_ts_epoch come of one commit; the gauge is set on its reply.
    const byPlan = keys.heatByPlan('p-health-1');
    await untilKeys(redis.client, [byPlan], () => redis.client.exists(byPlan), { what: 'p-health-1 bridged' });
    await afterRepliesSent(redis.client);
    const after = await body();
    expect(after).toMatch(/^\{"status": "ok", "last_ts_epoch": 1700000000, "last_loop_ms": \d+, "backlog": \d+\}$/);

    // HealthHandler.do_GET: `if self.path == '/health'` else 404; no do_POST → 501.
    expect((await fetch(`${base}/health?x=1`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    expect((await fetch(`${base}/health`, { method: 'POST' })).status).toBe(501);
    // The runtime's own port answers the same body too (the single gate's declared answer).
    expect((await get('/health')).body).toMatch(/^\{"status": "ok", "last_ts_epoch": 1700000000, /);
  });

  it.each([
    { gate: 'heat-gate', metric: 'p26_heat_value' },
    { gate: 'governor', metric: 'quantum_govern_allow_total' },
  ])('$gate: /health is the metrics exposition (prometheus_client answers every path)', async ({ gate, metric }) => {
    runtime = await start({ HANDLERS: gate });
    const response = await get('/health');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(response.body).toContain(`# TYPE ${metric} `);
  });

  it('all gates in one process: /health is the liveness body; each original body at /health/{gate}', async () => {
    runtime = await start({});
    expect((await get('/health')).body).toBe('{"status":"ok"}');
    expect((await get('/health/risk-budget')).body).toBe(
      '{"status":"healthy","service":"p2.8-portfolio-risk-governor","mode":"shadow","redis":"connected"}',
    );
    expect((await get('/health/heat-bridge')).body).toMatch(
      /^\{"status": "ok", "last_ts_epoch": \d+, "last_loop_ms": \d+, "backlog": \d+\}$/,
    );
    expect((await get('/health/governor')).body).toContain('# TYPE quantum_govern_allow_total ');
    expect((await get('/health/nobody')).statusCode).toBe(404);
    expect((await get('/ready')).headers['content-type']).toMatch(/json/);
  });

  it('per-gate env files keep the original ports: P2.6 8056, P2.7 8070 + 8071, P3.2 8044, P2.8 8049', () => {
    const env = (gate: string) =>
      Object.fromEntries(
        readFileSync(new URL(`../../deploy/env/gates-${gate}.env`, import.meta.url), 'utf8')
          .split('\n')
          .filter((line) => /^[A-Z0-9_]+=/.test(line))
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
    expect(env('heat-gate').PORT).toBe('8056'); // P26_METRICS_PORT default "8056"
    expect(env('heat-bridge')).toMatchObject({ PORT: '8070', P27_HEALTH_PORT: '8071' }); // P27_METRICS_PORT, P27_HEALTH_PORT
    expect(env('governor').PORT).toBe('8044'); // METRICS_PORT default '8044'
    expect(env('risk-budget')).toMatchObject({ PORT: '8049', HEAT_GATE_METRICS_URL: 'http://127.0.0.1:8056/metrics' }); // PORT "8049"
  });
});
