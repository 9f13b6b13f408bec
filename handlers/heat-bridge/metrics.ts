import type { MetricFactory } from '../../runtime/contract/index.js';

export const writtenKinds = ['by_plan', 'latest_symbol'] as const;
export const errorStages = ['read', 'write', 'ack'] as const;

/** The p27_* metrics of the Python HeatBridge (seed 004), same names and labels. */
export function heatBridgeMetrics(m: MetricFactory) {
  const metrics = {
    loops: m.counter({ name: 'p27_loops_total', help: 'Batches of heat decisions processed' }),
    inMessages: m.counter({ name: 'p27_in_messages_total', help: 'Heat decisions bridged (dedupe skips not counted, as the original)' }),
    written: m.counter({ name: 'p27_written_total', help: 'Lookup keys written, by kind', labelNames: ['kind'] }),
    dedupeSkips: m.counter({ name: 'p27_dedupe_skips_total', help: 'Heat decisions skipped: plan_id seen within P27_DEDUPE_TTL_SEC' }),
    errors: m.counter({ name: 'p27_errors_total', help: 'Errors by stage (read, write, ack)', labelNames: ['stage'] }),
    lagMs: m.gauge({ name: 'p27_lag_ms', help: 'Milliseconds from the decision ts_epoch to its lookup keys being written' }),
    lastTsEpoch: m.gauge({ name: 'p27_last_ts_epoch', help: 'ts_epoch of the last heat decision processed' }),
  };
  // The original exported every series from the start, at 0.
  for (const kind of writtenKinds) metrics.written.inc({ kind }, 0);
  for (const stage of errorStages) metrics.errors.inc({ stage }, 0);
  return metrics;
}
