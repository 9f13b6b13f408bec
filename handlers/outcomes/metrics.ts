import type { MetricFactory } from '../../runtime/contract/index.js';

export function outcomeMetrics(m: MetricFactory) {
  return {
    followUps: m.counter({
      name: 'quantum_gates_outcome_followups_total',
      help: 'Decisions that changed exposure and are followed up at each horizon, by kind (heat_downgrade, governor_block)',
      labelNames: ['kind'],
    }),
    skipped: m.counter({
      name: 'quantum_gates_outcome_skipped_total',
      help: 'Decisions that changed exposure but are not followed, by reason (max_pending, no_position, no_side, no_price, unpriced)',
      labelNames: ['kind', 'reason'],
    }),
    quotesRefused: m.counter({
      name: 'quantum_gates_outcome_price_quotes_refused_total',
      help: 'Price quotes a follow-up or a sample refused reading its mark, by source and reason (future: stamped beyond PRICE_MAX_SKEW_SEC)',
      labelNames: ['source', 'reason'],
    }),
    samples: m.counter({
      name: 'quantum_gates_outcome_samples_total',
      help: 'Outcome samples written, by horizon and whether a price was known (priced: 1 or 0)',
      labelNames: ['horizon', 'priced'],
    }),
  };
}

export type OutcomeMetrics = ReturnType<typeof outcomeMetrics>;
