/**
 * Cut-over as upstream's own tooling sees it (issue #22 item 7): the heat bridge's metrics port
 * answers the original's plain lines to curl, so scripts/proof_p27_heat_bridge.sh (73fab1f55,
 * lines 157-160 and 222-235: `curl -s http://localhost:8070/metrics | grep NAME | awk '{print $2}'`)
 * reads one number per series, while Prometheus still gets the typed exposition; the all-in-one
 * unit answers to upstream's unit names; the cut-over steps stop upstream's other heat gate.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, startRuntime } from '../support/runtime.js';
import { afterRepliesSent, untilKeys } from '../support/until.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** Prometheus 2.x's scrape Accept header (scrape/scrape.go, acceptHeader). */
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** The proof script's reading: `echo "$METRICS" | grep "NAME" | awk '{print $2}'`. */
function proofScriptReads(metrics: string, name: string): string {
  return execFileSync('bash', ['-c', `echo "$METRICS" | grep "${name}" | awk '{print $2}'`], {
    env: { ...process.env, METRICS: metrics },
    encoding: 'utf8',
  }).trim();
}

describe('cut-over: what upstream scripts and units expect', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it("the heat bridge's own process answers curl with the original's plain lines, Prometheus with the exposition", async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'heat-bridge' });
    const ts = Math.floor(Date.now() / 1000);
    await redis.client.xadd(
      streams.heatDecision,
      '*',
      'plan_id',
      'P1',
      'symbol',
      'BTCUSDT',
      'ts_epoch',
      String(ts),
      'out_action',
      'PARTIAL_25',
    );
    // The bridge's lookup hash and its metrics come of one commit; the metrics are counted on its reply.
    await untilKeys(redis.client, [keys.heatByPlan('P1')], () => redis.client.exists(keys.heatByPlan('P1')), { what: 'bridged' });
    await afterRepliesSent(redis.client);
    expect(await metricSum(runtime!, 'p27_in_messages_total')).toBe(1);

    const plain = await runtime.server.inject({ url: '/metrics' }); // curl's Accept: */*
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toBe('text/plain; charset=utf-8');
    const lines = plain.body.split('\n');
    // `for key, value in sorted(self.metrics_data.items()): lines.append(f"{key} {value}")`; '\n'.join(lines).
    expect(lines.map((l) => l.split(' ')[0])).toEqual([
      'p27_dedupe_skips_total',
      'p27_errors_total{stage="ack"}',
      'p27_errors_total{stage="read"}',
      'p27_errors_total{stage="write"}',
      'p27_in_messages_total',
      'p27_lag_ms',
      'p27_last_ts_epoch',
      'p27_loops_total',
      'p27_written_total{kind="by_plan"}',
      'p27_written_total{kind="latest_symbol"}',
    ]);
    expect(plain.body.endsWith('\n')).toBe(false);
    expect(lines).toContain('p27_in_messages_total 1');
    expect(lines).toContain(`p27_last_ts_epoch ${ts}`);
    expect(lines.every((l) => /^\S+ \d+$/.test(l))).toBe(true);
    // What the proof script reads: one number, not the HELP line's words beside it.
    expect(proofScriptReads(plain.body, 'p27_in_messages_total')).toBe('1');
    expect(proofScriptReads(plain.body, 'p27_dedupe_skips_total')).toBe('0');

    const scraped = await runtime.server.inject({ url: '/metrics', headers: { accept: PROMETHEUS_ACCEPT } });
    expect(scraped.body).toContain('# TYPE p27_in_messages_total counter');
    expect(scraped.body).toContain('quantum_gates_redis_up');
  });

  it('a process hosting several gates keeps the exposition for every client', async () => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate,heat-bridge' });
    expect((await runtime.server.inject({ url: '/metrics' })).body).toContain('# TYPE p27_in_messages_total counter');
  });

  it("the all-in-one unit carries upstream's unit names as aliases", () => {
    const unit = readFileSync(resolve(ROOT, 'deploy/systemd/quantum-gates.service'), 'utf8');
    const aliases = unit
      .split('\n')
      .filter((l) => l.startsWith('Alias='))
      .flatMap((l) => l.slice('Alias='.length).split(/\s+/));
    // Upstream's unit files: deploy/systemd/quantum-portfolio-heat-gate.service, deployment/systemd/
    // quantum-heat-bridge.service, deployment/systemd/quantum-governor.service,
    // deploy/quantum-portfolio-risk-governor.service (73fab1f55).
    expect(aliases.sort()).toEqual([
      'quantum-governor.service',
      'quantum-heat-bridge.service',
      'quantum-portfolio-heat-gate.service',
      'quantum-portfolio-risk-governor.service',
    ]);
  });

  it("the cut-over steps stop upstream's quantum-heat-gate, which writes the same streams", () => {
    const migration = readFileSync(resolve(ROOT, 'docs/migration.md'), 'utf8');
    const cutOver = migration.slice(migration.indexOf('## Cut-over'), migration.indexOf('\n## ', migration.indexOf('## Cut-over') + 1));
    expect(cutOver).toMatch(/systemctl disable --now [^`]*\bquantum-heat-gate\b/);
    expect(cutOver).toContain('systemctl mask quantum-heat-gate');
  });
});
