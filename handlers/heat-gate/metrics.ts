import type { MetricFactory } from '../../runtime/metrics.js';

/** The nine p26_* metrics of the Python heat gate, same names and labels, and one of ours. */
export function heatGateMetrics(m: MetricFactory) {
  return {
    heatValue: m.gauge({ name: 'p26_heat_value', help: 'Current portfolio heat' }),
    bucket: m.gauge({ name: 'p26_bucket', help: 'Heat bucket state (1 for the current bucket)', labelNames: ['state'] }),
    downgraded: m.counter({
      name: 'p26_actions_downgraded_total',
      help: 'Actions downgraded by the heat gate',
      labelNames: ['from_action', 'to_action', 'reason'],
    }),
    processed: m.counter({ name: 'p26_proposals_processed_total', help: 'Total proposals processed' }),
    streamLag: m.gauge({ name: 'p26_stream_lag_ms', help: 'Milliseconds from proposal entry to decision' }),
    failures: m.counter({ name: 'p26_failures_total', help: 'Fail-closed decisions by reason', labelNames: ['reason'] }),
    hashWrites: m.counter({ name: 'p26_hash_writes_total', help: 'Hash writes to proposal keys (enforce mode)' }),
    hashWriteFailures: m.counter({ name: 'p26_hash_write_fail_total', help: 'Hash write failures' }),
    enforceMode: m.gauge({ name: 'p26_enforce_mode', help: 'Enforce mode active (1=enforce, 0=shadow)' }),
    // Ours, not the original's: how the decision's positions were found when not the normal way.
    positionBookFallback: m.counter({
      name: 'quantum_heat_gate_position_book_fallback_total',
      help: 'Decisions whose unapplied snapshots came from the stream tail (no position-snapshot group) or were cut at POSITION_BOOK_MAX_PENDING',
      labelNames: ['cause'],
    }),
  };
}

export type HeatGateMetrics = ReturnType<typeof heatGateMetrics>;
