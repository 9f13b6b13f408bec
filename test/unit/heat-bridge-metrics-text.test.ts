import { describe, expect, it } from 'vitest';
import { heatBridgeMetricsText } from '../../handlers/heat-bridge/metrics-text.js';
import type { HeatBridgeConfig } from '../../handlers/heat-bridge/config.js';
import type { HealthProbe } from '../../runtime/contract/index.js';

/** A probe answering from a fixed set of series, as the runtime's registry would. */
function probe(series: Record<string, { labels?: Record<string, string>; value: number }[]>): HealthProbe<HeatBridgeConfig> {
  return {
    config: {} as HeatBridgeConfig,
    ping: async () => undefined,
    metrics: async () => ({ status: 200, contentType: 'text/plain', body: '' }),
    metricValue: async (name) => series[name]?.[0]?.value,
    metricSeries: async (name) => (series[name] ?? []).map((s) => ({ labels: s.labels ?? {}, value: s.value })),
    pending: 0,
    lastLoopMs: 0,
  };
}

describe("the heat bridge's /metrics as the original answered curl", () => {
  it('one `name value` line per key of its dict, sorted, Python ints, no HELP/TYPE, no final newline', async () => {
    const answer = await heatBridgeMetricsText.answer(
      probe({
        p27_loops_total: [{ value: 12 }],
        p27_in_messages_total: [{ value: 40 }],
        p27_written_total: [
          { labels: { kind: 'by_plan' }, value: 38 },
          { labels: { kind: 'latest_symbol' }, value: 38 },
        ],
        p27_dedupe_skips_total: [{ value: 2 }],
        p27_errors_total: [{ labels: { stage: 'write' }, value: 1 }],
        p27_lag_ms: [{ value: 12.7 }],
        p27_last_ts_epoch: [{ value: 1795429000.9 }],
      }),
    );
    expect(answer).toEqual({
      status: 200,
      contentType: 'text/plain; charset=utf-8',
      body: [
        'p27_dedupe_skips_total 2',
        'p27_errors_total{stage="ack"} 0',
        'p27_errors_total{stage="read"} 0',
        'p27_errors_total{stage="write"} 1',
        'p27_in_messages_total 40',
        'p27_lag_ms 12',
        'p27_last_ts_epoch 1795429000',
        'p27_loops_total 12',
        'p27_written_total{kind="by_plan"} 38',
        'p27_written_total{kind="latest_symbol"} 38',
      ].join('\n'),
    });
  });

  it('answers 0 for a series the process has not written yet', async () => {
    const answer = await heatBridgeMetricsText.answer(probe({}));
    expect(answer.body.split('\n')).toHaveLength(10);
    expect(answer.body.split('\n').every((line) => line.endsWith(' 0'))).toBe(true);
  });
});
