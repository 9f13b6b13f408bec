import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Narrow metric interfaces handlers see. Handlers declare their metrics through a MetricFactory
 * and never import prom-client, so a fake ctx can hand them recording no-ops.
 */
export type Labels<L extends string> = Readonly<Record<L, string | number>>;

export interface CounterMetric<L extends string = never> {
  inc(...args: [L] extends [never] ? [by?: number] : [labels: Labels<L>, by?: number]): void;
}
export interface GaugeMetric<L extends string = never> {
  set(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void;
}
export interface HistogramMetric<L extends string = never> {
  observe(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void;
}

export interface MetricSpec<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
}

export interface MetricFactory {
  counter<L extends string = never>(spec: MetricSpec<L>): CounterMetric<L>;
  gauge<L extends string = never>(spec: MetricSpec<L>): GaugeMetric<L>;
  histogram<L extends string = never>(spec: MetricSpec<L> & { buckets?: readonly number[] }): HistogramMetric<L>;
}

type AnyMetricCall = (...args: unknown[]) => void;

/** A factory backed by a prom-client registry; metrics of the same name are shared, not redefined. */
export function promMetricFactory(registry: Registry): MetricFactory {
  const existing = (name: string) => registry.getSingleMetric(name);
  return {
    counter(spec) {
      const metric = existing(spec.name) ?? new Counter({ name: spec.name, help: spec.help, labelNames: [...(spec.labelNames ?? [])], registers: [registry] });
      return metric as unknown as CounterMetric<never>;
    },
    gauge(spec) {
      const metric = existing(spec.name) ?? new Gauge({ name: spec.name, help: spec.help, labelNames: [...(spec.labelNames ?? [])], registers: [registry] });
      return metric as unknown as GaugeMetric<never>;
    },
    histogram(spec) {
      const metric =
        existing(spec.name) ??
        new Histogram({
          name: spec.name,
          help: spec.help,
          labelNames: [...(spec.labelNames ?? [])],
          ...(spec.buckets ? { buckets: [...spec.buckets] } : {}),
          registers: [registry],
        });
      return metric as unknown as HistogramMetric<never>;
    },
  } as MetricFactory;
}

/** A metric update held back until its message commits. */
export interface DeferredMetricCall {
  readonly target: Record<string, AnyMetricCall>;
  readonly method: 'inc' | 'set' | 'observe';
  readonly args: unknown[];
}

export function applyMetricCall(call: DeferredMetricCall): void {
  call.target[call.method]!(...call.args);
}

/** Stands in for one metric, queueing calls instead of applying them. Prototype methods: no closures per message. */
class DeferredMetric {
  constructor(
    private readonly target: Record<string, AnyMetricCall>,
    private readonly queue: DeferredMetricCall[],
  ) {}
  inc(...args: unknown[]): void {
    this.queue.push({ target: this.target, method: 'inc', args });
  }
  set(...args: unknown[]): void {
    this.queue.push({ target: this.target, method: 'set', args });
  }
  observe(...args: unknown[]): void {
    this.queue.push({ target: this.target, method: 'observe', args });
  }
}

/**
 * Wraps a handler's metrics so each call is queued on `queue` instead of applied: the runtime
 * applies the queue only after the message's commit succeeded, so a retried or conflicted
 * message never counts twice.
 */
export function deferMetrics<M extends object>(metrics: M, queue: DeferredMetricCall[]): M {
  const wrapped: Record<string, DeferredMetric> = {};
  for (const key in metrics) wrapped[key] = new DeferredMetric(metrics[key] as Record<string, AnyMetricCall>, queue);
  return wrapped as M;
}

/** Metrics of the runtime itself, shared by every handler (labelled by handler). */
export function runtimeMetrics(registry: Registry) {
  const labelNames = ['handler'] as const;
  return {
    messages: new Counter({
      name: 'quantum_gates_messages_total',
      help: 'Messages finished by a handler, by outcome (handled, fallback, dead_letter, skipped)',
      labelNames: ['handler', 'outcome'],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'quantum_gates_dead_letters_total',
      help: 'Messages moved to the dead-letter stream, by reason',
      labelNames: ['handler', 'reason'],
      registers: [registry],
    }),
    retries: new Counter({ name: 'quantum_gates_retries_total', help: 'Handler attempts that threw and were retried', labelNames, registers: [registry] }),
    conflicts: new Counter({
      name: 'quantum_gates_commit_conflicts_total',
      help: 'Messages re-run because a commit guard no longer held (another replica won the race)',
      labelNames,
      registers: [registry],
    }),
    reclaimed: new Counter({
      name: 'quantum_gates_reclaimed_total',
      help: 'Pending entries reclaimed from idle consumers with XAUTOCLAIM',
      labelNames,
      registers: [registry],
    }),
    commitFailures: new Counter({
      name: 'quantum_gates_commit_failures_total',
      help: 'Commits that failed and were retried, by kind (connection, effect)',
      labelNames: ['handler', 'kind'],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'quantum_gates_batch_size',
      help: 'Entries per batch read from a stream',
      labelNames,
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'quantum_gates_batch_duration_seconds',
      help: 'Time from a batch being read to its commit',
      labelNames,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    consumerUp: new Gauge({ name: 'quantum_gates_consumer_up', help: '1 while a handler is consuming, 0 while it waits for Redis', labelNames, registers: [registry] }),
    consumerPending: new Gauge({
      name: 'quantum_gates_consumer_pending',
      help: "Entries delivered to the handler's consumer group and not yet acknowledged",
      labelNames,
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'quantum_gates_consumer_lag',
      help: "Entries in the handler's stream not yet delivered to its consumer group",
      labelNames,
      registers: [registry],
    }),
    redisUp: new Gauge({ name: 'quantum_gates_redis_up', help: '1 while the runtime has a ready Redis connection', registers: [registry] }),
  };
}

export type RuntimeMetrics = ReturnType<typeof runtimeMetrics>;

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
