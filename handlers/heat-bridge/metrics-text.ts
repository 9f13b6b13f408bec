import type { HealthProbe, MetricsDeclaration } from '../../runtime/contract/index.js';
import type { HeatBridgeConfig } from './config.js';
import { errorStages, writtenKinds } from './metrics.js';

/**
 * The original's MetricsHandler (microservices/heat_bridge/main.py at 3eb5fe66b, lines 28-47 and
 * `export_metrics` lines 308-320): 200, text/plain; charset=utf-8, one `name value` line per key
 * of its dict in sorted order, joined by "\n" with no final newline, no # HELP or # TYPE.
 * Upstream's scripts/proof_p27_heat_bridge.sh reads it with `grep p27_… | awk '{print $2}'`,
 * which a typed exposition breaks (the HELP line matches too). Values are the same series as
 * ours (B3: p27_loops_total counts batches here).
 */
export const heatBridgeMetricsText: MetricsDeclaration<HeatBridgeConfig> = {
  async answer(probe) {
    const lines = (await originalSeries(probe)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, value]) => `${key} ${value}`);
    return { status: 200, contentType: 'text/plain; charset=utf-8', body: lines.join('\n') };
  },
};

/** The original's dict: its keys (labels written into the name) and Python ints. */
async function originalSeries(probe: HealthProbe<HeatBridgeConfig>): Promise<[string, string][]> {
  const value = async (name: string, labels: Record<string, string> = {}): Promise<string> => {
    const series = await probe.metricSeries(name);
    const match = series.find((s) => Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v));
    return String(Math.trunc(match?.value ?? 0));
  };
  return [
    ['p27_loops_total', await value('p27_loops_total')],
    ['p27_in_messages_total', await value('p27_in_messages_total')],
    ...(await Promise.all(
      writtenKinds.map(async (kind): Promise<[string, string]> => [
        `p27_written_total{kind="${kind}"}`,
        await value('p27_written_total', { kind }),
      ]),
    )),
    ['p27_dedupe_skips_total', await value('p27_dedupe_skips_total')],
    ...(await Promise.all(
      errorStages.map(async (stage): Promise<[string, string]> => [
        `p27_errors_total{stage="${stage}"}`,
        await value('p27_errors_total', { stage }),
      ]),
    )),
    ['p27_lag_ms', await value('p27_lag_ms')],
    ['p27_last_ts_epoch', await value('p27_last_ts_epoch')],
  ];
}
