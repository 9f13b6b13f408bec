import { redisTape, tapeSettings } from '../../app/tape/store.js';
import type { RedisClient, RootLogger } from '../../runtime/host/index.js';
import { readinessGauge } from '../../app/readiness-gauge.js';
import { shadowMetrics } from '../../app/shadow/metrics.js';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { runtimeEnvSchema } from '../../runtime/host/config.js';
import { dashboardAuthEnvSchema } from '../../app/http/auth.js';
import { promMetricFactory, runtimeMetrics } from '../../runtime/engine/metrics.js';

const deploy = resolve(import.meta.dirname, '../../deploy');
const read = (path: string) => readFileSync(resolve(deploy, path), 'utf8');

/** Series Prometheus makes itself: they are never in our /metrics. */
const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'ALERTS']);

/**
 * BullMQ's own families, which /metrics appends from Queue.exportPrometheusMetrics()
 * (runtime/host/server.ts) rather than from the registry; test/integration/job-runner.test.ts
 * finds each of them in a real scrape.
 */
const BULLMQ_SERIES = new Set(['bullmq_job_count', 'bullmq_job_completed_total', 'bullmq_job_failed_total']);

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * Metric names in a PromQL expression: identifiers left once strings, label matchers, grouping
 * clauses, range selectors and durations are removed, and function names (followed by "(").
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\w+/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = match[0];
    const after = stripped.slice(match.index + name.length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(name.toLowerCase())) continue;
    if (/^\d/.test(stripped[match.index - 1] ?? '')) continue; // the unit of a number such as 1e3
    names.add(name);
  }
  return [...names];
}

/** The alert rules' expressions; the file keeps each on one line so this stays a regex. */
function alertExpressions(): { alert: string; expr: string }[] {
  const text = read('prometheus/alerts.yml');
  const rules: { alert: string; expr: string }[] = [];
  let alert = '';
  for (const line of text.split('\n')) {
    const named = /^\s*-\s*alert:\s*(\S+)/.exec(line);
    if (named) alert = named[1]!;
    const expr = /^\s*expr:\s*(.+)$/.exec(line);
    if (expr) rules.push({ alert, expr: expr[1]!.trim() });
  }
  return rules;
}

interface ValueMapping {
  type: string;
  options?: Record<string, { text?: string }>;
}

interface GrafanaPanel {
  type?: string;
  title?: string;
  targets?: { expr?: string }[];
  panels?: GrafanaPanel[];
  fieldConfig?: { defaults?: { unit?: string; mappings?: ValueMapping[] } };
}

interface GrafanaDashboard {
  panels: GrafanaPanel[];
  templating: { list: { name: string; type: string; query?: unknown; definition?: string; includeAll?: boolean; multi?: boolean }[] };
  annotations: { list: { name: string; expr?: string; enable?: boolean; builtIn?: number }[] };
}

const dashboard = () => JSON.parse(read('grafana/quantum-gates.json')) as GrafanaDashboard;

/** Every panel, rows' nested panels included. */
function allPanels(): GrafanaPanel[] {
  const out: GrafanaPanel[] = [];
  const walk = (panels: GrafanaPanel[]) => {
    for (const panel of panels) {
      out.push(panel);
      walk(panel.panels ?? []);
    }
  };
  walk(dashboard().panels);
  return out;
}

/** Every PromQL expression of the dashboard: its panels' queries and its annotations'. */
function dashboardExpressions(): { panel: string; expr: string }[] {
  const queries = allPanels().flatMap((panel) =>
    (panel.targets ?? []).flatMap((t) => (t.expr ? [{ panel: panel.title ?? '?', expr: t.expr }] : [])),
  );
  const annotations = dashboard().annotations.list.flatMap((a) => (a.expr ? [{ panel: `annotation ${a.name}`, expr: a.expr }] : []));
  return [...queries, ...annotations];
}

/** Each place a metric is selected in a PromQL expression, with its label matchers ("" when none). */
function metricSelectors(expr: string): { name: string; matchers: string }[] {
  const metrics = new Set(metricNames(expr));
  const out: { name: string; matchers: string }[] = [];
  // Strings, brace blocks and ranges are whole tokens, so nothing inside them reads as a name.
  const tokens = [...expr.matchAll(/"(?:[^"\\]|\\.)*"|\{[^}]*\}|\[[^\]]*\]|[a-zA-Z_:][a-zA-Z0-9_:]*/g)];
  tokens.forEach((token, i) => {
    if (!metrics.has(token[0])) return;
    const next = tokens[i + 1];
    const adjacent = next !== undefined && next[0].startsWith('{') && expr.slice(token.index + token[0].length, next.index).trim() === '';
    out.push({ name: token[0], matchers: adjacent ? next[0] : '' });
  });
  return out;
}

/** Every series name the runtime's /metrics can show: handlers', the runtime's and the defaults. */
async function exportedSeries(): Promise<Set<string>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  runtimeMetrics(registry, { version: '0.1.0', commit: 'source' });
  const factory = promMetricFactory(registry);
  for (const handler of allHandlers) handler.metrics(factory, handler.config({}));
  readinessGauge(registry, () => ({ starting: false, redis: undefined, gates: [] }));
  // The tape's own metrics; with no gate hosted its gauges read nothing from Redis.
  redisTape({})!({} as RedisClient, registry, {} as RootLogger);
  const names = new Set<string>();
  // The shadow's process (quantum-gates shadow) exports its own on SHADOW_PORT.
  for (const metric of [...(await registry.getMetricsAsJSON()), ...(await shadowMetrics().registry.getMetricsAsJSON())]) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
    if (String(metric.type) === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${metric.name}${suffix}`);
  }
  return names;
}

describe('deploy/: alerts and dashboard use only exported metrics', () => {
  it('finds each metric selection with its matchers, not label names, strings or functions', () => {
    expect(metricSelectors('sum by (instance) (rate(a_total{job="x", gate=~"$gate"}[5m])) / b')).toEqual([
      { name: 'a_total', matchers: '{job="x", gate=~"$gate"}' },
      { name: 'b', matchers: '' },
    ]);
    expect(metricSelectors('label_replace(changes(m{i="1"}[2m]) > 0, "which", "P2.6 heat gate", "", "")')).toEqual([
      { name: 'm', matchers: '{i="1"}' },
    ]);
  });

  it('extracts metric names from PromQL, not functions, labels or keywords', () => {
    expect(
      metricNames('histogram_quantile(0.99, sum by (le, handler) (rate(quantum_gates_batch_duration_seconds_bucket[5m]))) > 1'),
    ).toEqual(['quantum_gates_batch_duration_seconds_bucket']);
    expect(metricNames('up{job="quantum-gates", gate=~"all|risk-budget"} == 0')).toEqual(['up']);
    expect(metricNames('sum by (to_action) (increase(p26_actions_downgraded_total[$__rate_interval]))')).toEqual([
      'p26_actions_downgraded_total',
    ]);
    expect(metricNames('a_total / on (symbol) group_left b_total > 1e3 and c')).toEqual(['a_total', 'b_total', 'c']);
  });

  it('has the three alerts of seed 002 and the per-gate alerts', () => {
    const names = alertExpressions().map((r) => r.alert);

    expect(names).toEqual(expect.arrayContaining(['P28BudgetEngineDown', 'P28HighStaleInputRate', 'P28RedisWriteFailures']));
    expect(names).toEqual(
      expect.arrayContaining([
        'QuantumGatesProcessDown',
        'QuantumGatesDeadLetters',
        'QuantumGatesConsumerLag',
        'P26FailClosedDecisions',
        'GovernorDisarmTripped',
      ]),
    );
  });

  it('keeps every alert expression on one line, so none escapes this check', () => {
    const text = read('prometheus/alerts.yml');

    expect(text.match(/^\s*expr:/gm)).toHaveLength(alertExpressions().length);
    expect(text).not.toMatch(/^\s*expr:\s*[|>]/m);
    expect(alertExpressions().length).toBe(text.match(/^\s*-\s*alert:/gm)!.length);
  });

  it('every metric in alerts.yml is exported by the runtime', async () => {
    const exported = await exportedSeries();
    const unknown = alertExpressions().flatMap(({ alert, expr }) =>
      metricNames(expr)
        .filter((name) => !exported.has(name) && !PROMETHEUS_SERIES.has(name))
        .map((name) => `${alert}: ${name}`),
    );

    expect(unknown).toEqual([]);
  });

  it('every metric in the Grafana dashboard is exported by the runtime', async () => {
    const exported = await exportedSeries();
    const expressions = dashboardExpressions();
    const unknown = expressions.flatMap(({ panel, expr }) =>
      metricNames(expr)
        .filter((name) => !exported.has(name) && !PROMETHEUS_SERIES.has(name) && !BULLMQ_SERIES.has(name))
        .map((name) => `${panel}: ${name}`),
    );

    expect(expressions.length).toBeGreaterThan(20);
    expect(unknown).toEqual([]);
  });

  it('the dashboard covers heat, buckets, downgrades, permits and blocks, budgets, backlog, dead letters and latency', () => {
    const used = new Set(dashboardExpressions().flatMap(({ expr }) => metricNames(expr)));

    for (const name of [
      'p26_heat_value',
      'p26_bucket',
      'p26_actions_downgraded_total',
      'quantum_govern_allow_total',
      'quantum_govern_block_total',
      'p28_budget_value_usd',
      'quantum_gates_consumer_lag',
      'quantum_gates_consumer_pending',
      'quantum_gates_dead_letters_total',
      'quantum_gates_batch_duration_seconds_bucket',
    ]) {
      expect(used, name).toContain(name);
    }
  });
});

describe('deploy/grafana: a dashboard an operator can filter and read', () => {
  const mapping = (panel: GrafanaPanel) =>
    Object.fromEntries(
      (panel.fieldConfig?.defaults?.mappings ?? []).flatMap((m) => Object.entries(m.options ?? {}).map(([value, to]) => [value, to.text])),
    );
  const querying = (pattern: RegExp) => allPanels().filter((p) => (p.targets ?? []).some((t) => pattern.test(t.expr ?? '')));

  it('has the variables instance and gate, each listing the scrape targets of job quantum-gates', () => {
    const variables = new Map(dashboard().templating.list.map((v) => [v.name, v]));
    for (const name of ['instance', 'gate']) {
      const variable = variables.get(name);
      expect(variable, name).toMatchObject({ type: 'query', includeAll: true, multi: true });
      expect(variable?.definition).toMatch(new RegExp(`^label_values\\(up\\{job="quantum-gates".*\\}, ${name}\\)$`));
    }
  });

  it('every query and annotation selects by the variables, so a choice filters every panel', () => {
    const unfiltered = dashboardExpressions().flatMap(({ panel, expr }) =>
      metricSelectors(expr)
        .filter(({ matchers }) => !matchers.includes('instance=~"$instance"') || !matchers.includes('gate=~"$gate"'))
        .map(({ name }) => `${panel}: ${name}`),
    );

    expect(dashboardExpressions().length).toBeGreaterThan(30);
    expect(unfiltered).toEqual([]);
  });

  it('every panel states its unit', () => {
    const panels = allPanels().filter((p) => p.type !== 'row');
    const withoutUnit = panels
      .filter((p) => typeof p.fieldConfig?.defaults?.unit !== 'string' || p.fieldConfig.defaults.unit === '')
      .map((p) => p.title);

    expect(panels.length).toBeGreaterThan(25);
    expect(withoutUnit).toEqual([]);
  });

  it('shows modes as shadow / enforce and up as UP / DOWN (value mappings), not as 0 and 1', () => {
    const modes = querying(/_enforce_mode\b/);
    const up = querying(/\bup\{/);

    expect(modes.length).toBeGreaterThan(0);
    for (const panel of modes) expect(mapping(panel), panel.title).toMatchObject({ '0': 'shadow', '1': 'enforce' });
    expect(up.length).toBeGreaterThan(0);
    for (const panel of up) expect(mapping(panel), panel.title).toMatchObject({ '0': 'DOWN', '1': 'UP' });
  });

  it('annotates mode changes, the kill switch and disarm', () => {
    const annotations = new Map(
      dashboard()
        .annotations.list.filter((a) => a.expr)
        .map((a) => [a.name, a]),
    );

    expect(annotations.get('Mode changes')?.expr).toMatch(/changes\(p26_enforce_mode\{.*changes\(p28_enforce_mode\{/);
    expect(annotations.get('Kill switch')?.expr).toMatch(/quantum_govern_kill_switch\{[^}]*\}\) == 1$/);
    expect(annotations.get('Disarm')?.expr).toMatch(/quantum_govern_disarmed\{[^}]*\}\) == 1$/);
    expect([...annotations.values()].every((a) => a.enable === true)).toBe(true);
  });
});

/** Variables a parser reads, found by handing it an environment that records every lookup. */
function variablesRead(parse: (env: Record<string, string | undefined>) => unknown): Set<string> {
  const seen = new Set<string>();
  const env = new Proxy({} as Record<string, string | undefined>, {
    get: (_target, key) => {
      if (typeof key === 'string') seen.add(key);
      return undefined;
    },
  });
  try {
    parse(env);
  } catch {
    // A parser may reject the empty environment; what it looked at is what counts.
  }
  return seen;
}

function envFile(name: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of read(`env/${name}`).split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) vars.set(match[1]!, match[2]!);
  }
  return vars;
}

describe('deploy/env: the env files name real variables', () => {
  const runtimeVars = new Set([
    ...Object.keys(runtimeEnvSchema.shape),
    ...Object.keys((dashboardAuthEnvSchema as unknown as { shape?: object }).shape ?? {}),
    ...Object.keys(tapeSettings.shape),
    'NODE_ENV',
  ]);
  const handlerVars = new Map(allHandlers.map((h) => [h.name, variablesRead(h.config)]));
  // And what the units themselves expand in their command lines ($QG_NODE_FLAGS: node's heap flags).
  const unitVars = readdirSync(resolve(deploy, 'systemd'))
    .filter((f) => f.endsWith('.service'))
    .flatMap((f) =>
      [...read(`systemd/${f}`).matchAll(/^Exec\w*=.*$/gm)].flatMap((line) => [...line[0].matchAll(/\$\{?([A-Z][A-Z0-9_]*)/g)]),
    )
    .map((m) => m[1]!);
  const known = new Set([...runtimeVars, ...[...handlerVars.values()].flatMap((s) => [...s]), ...unitVars]);

  it.each(readdirSync(resolve(deploy, 'env')).map((f) => [f]))('%s sets only variables some parser reads', (file) => {
    const unknown = [...envFile(file).keys()].filter((name) => !known.has(name));

    expect(unknown).toEqual([]);
  });

  it.each([...handlerVars.keys()].filter((name) => name !== 'governor-cooldown').map((name) => [name]))(
    'quantum-gates.env lists every variable of %s',
    (name) => {
      const all = envFile('quantum-gates.env');
      const missing = [...handlerVars.get(name)!].filter((v) => !all.has(v) && !/^(ENV_|TEST_)/.test(v));

      expect(missing).toEqual([]);
    },
  );

  it.each([
    ['gates-heat-gate.env', 'heat-gate'],
    ['gates-heat-bridge.env', 'heat-bridge'],
    ['gates-governor.env', 'governor'],
    ['gates-risk-budget.env', 'risk-budget'],
    ['gates-position-snapshot.env', 'position-snapshot'],
    ['gates-outcomes.env', 'outcome-heat'],
    ['gates-outcomes.env', 'outcome-sample'],
  ])('%s (with gates-common.env) lists every variable of %s', (file, name) => {
    const vars = new Map([...envFile('gates-common.env'), ...envFile(file)]);
    const missing = [...handlerVars.get(name)!].filter((v) => !vars.has(v));

    expect(missing).toEqual([]);
  });

  it('every per-gate file has its own PORT, so instances on one host do not collide', () => {
    const ports = readdirSync(resolve(deploy, 'env'))
      .filter((f) => f.startsWith('gates-') && f !== 'gates-common.env')
      .map((f) => envFile(f).get('PORT'));

    expect(ports.every((p) => p !== undefined && /^\d+$/.test(p))).toBe(true);
    expect(new Set(ports).size).toBe(ports.length);
  });
});

describe('deploy/prometheus: every alert is tested and has a runbook', () => {
  const alerts = alertExpressions().map((r) => r.alert);
  const testsDir = resolve(deploy, 'prometheus/tests');
  const tested = new Set(
    readdirSync(testsDir)
      .filter((f) => f.endsWith('.yml'))
      .flatMap((f) => [...readFileSync(resolve(testsDir, f), 'utf8').matchAll(/alertname:\s*(\S+)/g)].map((m) => m[1]!)),
  );
  const operations = readFileSync(resolve(deploy, '../docs/operations.md'), 'utf8');
  const headings = new Set(
    [...operations.matchAll(/^#+\s+(.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, '')
        .replace(/ /g, '-'),
    ),
  );

  it('has a promtool unit test naming every alert', () => {
    expect(alerts.filter((a) => !tested.has(a))).toEqual([]);
  });

  it('links every alert to its own section of docs/operations.md, by a path relative to the project (no file:// URL another machine cannot open)', () => {
    const text = read('prometheus/alerts.yml');
    expect(text).not.toMatch(/runbook_url:\s*"(?!docs\/operations\.md#)/);
    const runbooks = [...text.matchAll(/runbook_url:\s*"docs\/operations\.md#([^"]+)"/g)].map((m) => m[1]!);

    expect(runbooks).toEqual(alerts.map((a) => a.toLowerCase()));
    expect(runbooks.filter((anchor) => !headings.has(anchor))).toEqual([]);
  });
});
