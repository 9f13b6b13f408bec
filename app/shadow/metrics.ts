import { Counter, Gauge, Registry } from 'prom-client';

/** The shadow process's own metrics (its /metrics): what it compared and how far it is behind. */
export function shadowMetrics() {
  const registry = new Registry();
  const pairs = new Counter({
    name: 'quantum_gates_shadow_pairs_total',
    help: 'Inputs both the incumbent and the shadow decided, by gate and class: same, documented (a row of docs/migration.md), unexplained',
    labelNames: ['gate', 'class'],
    registers: [registry],
  });
  const unpaired = new Counter({
    name: 'quantum_gates_shadow_unpaired_total',
    help: 'Inputs only one side decided within the grace, by gate and the side that decided it',
    labelNames: ['gate', 'decided_by'],
    registers: [registry],
  });
  const decisions = new Counter({
    name: 'quantum_gates_shadow_decisions_total',
    help: 'Decisions the shadow made and recorded (never sent), by gate',
    labelNames: ['gate'],
    registers: [registry],
  });
  const lag = new Gauge({
    name: 'quantum_gates_shadow_lag_entries',
    help: "Entries of the gate's stream the shadow's group has not read yet",
    labelNames: ['gate'],
    registers: [registry],
  });
  const pairedUpTo = new Gauge({
    name: 'quantum_gates_shadow_paired_up_to_seconds',
    help: 'When the newest input the pairing settled was produced (Unix seconds): how far behind the stream the comparison is',
    labelNames: ['gate'],
    registers: [registry],
  });
  return { registry, pairs, unpaired, decisions, lag, pairedUpTo };
}

export type ShadowMetrics = ReturnType<typeof shadowMetrics>;
