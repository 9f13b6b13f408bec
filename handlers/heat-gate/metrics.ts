import type { MetricFactory } from '../../runtime/contract/index.js';
import type { HeatGateConfig } from './config.js';
import { unusableReasons } from './unusable.js';

/**
 * prometheus_client's default Histogram buckets, which the original's p26_stream_lag_ms used
 * (it observes milliseconds against them, so nearly every observation lands in +Inf; kept so
 * dashboards built on the original's series read the same).
 */
export const PYTHON_DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] as const;

/**
 * The nine p26_* metrics of the original (`PortfolioHeatGate.__init__`): names, types, help texts
 * and labels as it declared them; then ours.
 */
export function heatGateMetrics(m: MetricFactory, config: Pick<HeatGateConfig, 'P26_MODE'>) {
  const metrics = {
    heatValue: m.gauge({ name: 'p26_heat_value', help: 'Current portfolio heat value' }),
    bucket: m.gauge({ name: 'p26_bucket', help: 'Heat bucket state', labelNames: ['state'] }),
    downgraded: m.counter({
      name: 'p26_actions_downgraded_total',
      help: 'Total actions downgraded',
      labelNames: ['from_action', 'to_action', 'reason'],
    }),
    streamLag: m.histogram({ name: 'p26_stream_lag_ms', help: 'Stream processing lag in ms', buckets: PYTHON_DEFAULT_BUCKETS }),
    processed: m.counter({ name: 'p26_proposals_processed_total', help: 'Total proposals processed' }),
    failures: m.counter({ name: 'p26_failures_total', help: 'Total processing failures', labelNames: ['reason'] }),
    hashWrites: m.counter({ name: 'p26_hash_writes_total', help: 'Total hash writes to proposal keys' }),
    hashWriteFailures: m.counter({ name: 'p26_hash_write_fail_total', help: 'Total hash write failures' }),
    enforceMode: m.gauge({ name: 'p26_enforce_mode', help: 'Enforce mode active (1=enforce, 0=shadow)' }),
    // Ours, not the original's: how the decision's positions were found when not the normal way.
    positionBookFallback: m.counter({
      name: 'quantum_heat_gate_position_book_fallback_total',
      help: 'Decisions whose unapplied snapshots came from the stream tail (no position-snapshot group) or were cut at POSITION_BOOK_MAX_PENDING',
      labelNames: ['cause'],
    }),
    // Ours: p26_failures_total keeps the original's four labels; this says exactly why.
    failClosed: m.counter({
      name: 'quantum_heat_gate_fail_closed_total',
      help: 'Decisions taken as COLD because equity or a position figure could not be trusted, by cause',
      labelNames: ['cause'],
    }),
    heatCapped: m.counter({
      name: 'quantum_heat_gate_heat_capped_total',
      help: 'Decisions whose heat was not finite or above the cap, and was capped',
    }),
    quotesRefused: m.counter({
      name: 'p26_price_quotes_refused_total',
      help: "Price quotes of a proposal's symbol refused at its decision's mark, by source and reason (future: stamped beyond PRICE_MAX_SKEW_SEC)",
      labelNames: ['source', 'reason'],
    }),
    figuresRefused: m.counter({
      name: 'quantum_heat_gate_figures_refused_total',
      help: "Position figures a decision's book refused, by source (snapshot, p33) and reason (future, unparsable, unreadable): the decision fails closed",
      labelNames: ['source', 'reason'],
    }),
    positionsWithoutSigma: m.gauge({
      name: 'quantum_heat_gate_positions_without_sigma',
      help: 'Open positions without a positive sigma at the last decision (they add nothing to heat)',
    }),
    notionalWithoutSigma: m.gauge({
      name: 'quantum_heat_gate_notional_without_sigma_usd',
      help: 'Absolute notional (USD) of the open positions without sigma at the last decision',
    }),
    unusable: m.counter({
      name: 'quantum_heat_gate_unusable_entries_total',
      help: "Entries of the proposal stream no heat gate can use (another heat gate's decisions, no action, an action nobody proposes), acknowledged without a dead letter, by reason",
      labelNames: ['reason'],
    }),
    superseded: m.counter({
      name: 'quantum_heat_gate_superseded_total',
      help: 'Enforce mode: proposals acknowledged unapplied because the proposal hash already held the calibration of a newer proposal of their symbol',
    }),
    thresholdsUnreached: m.gauge({
      name: 'quantum_heat_gate_thresholds_unreached',
      help: 'Whether the heat of the last hour of refreshes never came within a factor of 10 of HEAT_MIN or HEAT_MAX (1: every full close lands in one bucket)',
    }),
    truncatedFields: m.counter({
      name: 'quantum_heat_gate_truncated_fields_total',
      help: 'Free-text proposal fields longer than the limit, truncated in the outputs',
    }),
  };
  // Published from the start, as the original set it in __init__.
  metrics.enforceMode.set(config.P26_MODE === 'enforce' ? 1 : 0);
  for (const reason of unusableReasons) metrics.unusable.inc({ reason }, 0);
  return metrics;
}

export type HeatGateMetrics = ReturnType<typeof heatGateMetrics>;
