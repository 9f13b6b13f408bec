import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricFactory, MetricSpec } from '../contract/metrics.js';

type AnyMetricCall = (...args: unknown[]) => void;

/** A factory backed by a prom-client registry; metrics of the same name are shared, not redefined. */
export function promMetricFactory(registry: Registry): MetricFactory {
  const make = (Metric: typeof Counter | typeof Gauge | typeof Histogram) => (spec: MetricSpec<string> & { buckets?: readonly number[] }) =>
    registry.getSingleMetric(spec.name) ??
    new Metric({
      name: spec.name,
      help: spec.help,
      labelNames: [...(spec.labelNames ?? [])],
      ...(spec.buckets ? { buckets: [...spec.buckets] } : {}),
      registers: [registry],
    });
  // prom-client's classes take the contract's calls ((labels, value) or (value)); its generics cannot say so.
  return { counter: make(Counter), gauge: make(Gauge), histogram: make(Histogram) } as unknown as MetricFactory;
}

/** Metric updates held back until their message commits, in the order they were made. */
export type DeferredMetricCalls = (() => void)[];

export function applyMetricCalls(calls: DeferredMetricCalls): void {
  for (const call of calls) call();
}

/**
 * A handler's metrics whose updates are queued on `queue`, applied only once the message
 * committed, so a retried message never counts twice.
 */
export function deferMetrics<M extends object>(metrics: M, queue: DeferredMetricCalls): M {
  const deferred: Record<string, object> = {};
  for (const [name, metric] of Object.entries(metrics) as [string, Record<string, AnyMetricCall>][]) {
    const later =
      (method: string) =>
      (...args: unknown[]) =>
        void queue.push(() => metric[method]!(...args));
    deferred[name] = { inc: later('inc'), set: later('set'), observe: later('observe') };
  }
  return deferred as M;
}

/** The runtime's own metrics, labelled by handler; `build` is what quantum_gates_build_info names (the application's buildInfo()). */
export function runtimeMetrics(registry: Registry, build: { readonly version: string; readonly commit: string }) {
  const registers = [registry];
  const H = ['handler'] as const;
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers });
  const histogram = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, labelNames: H, buckets, registers });
  gauge('quantum_gates_build_info', 'Version and git commit of the running quantum-gates build (always 1)', ['version', 'commit']).set(
    { version: build.version, commit: build.commit },
    1,
  );
  return {
    messages: counter(
      'quantum_gates_messages_total',
      'Messages finished by a handler, by outcome (handled, fallback, dead-letter, skipped, unusable, superseded)',
      ['handler', 'outcome'],
    ),
    deadLetters: counter('quantum_gates_dead_letters_total', 'Messages moved to the dead-letter stream, by reason', ['handler', 'reason']),
    deadLettersLost: counter(
      'quantum_gates_dead_letters_lost_total',
      'Dead letters given up after Redis refused their write the same way on every try (the dead-letter stream or its index of another type): each logged whole, its source entry acknowledged',
      ['handler', 'reason'],
    ),
    deadLettersTrimmed: counter(
      'quantum_gates_dead_letters_trimmed_total',
      "Dead letters removed from the handler's dead-letter stream by its DLQ_MAXLEN bound (lost unless replayed before)",
      H,
    ),
    retries: counter('quantum_gates_retries_total', 'Handler attempts that threw and were retried', H),
    conflicts: counter(
      'quantum_gates_commit_conflicts_total',
      'Messages re-run because a commit guard no longer held (another replica won the race)',
      H,
    ),
    reclaimed: counter('quantum_gates_reclaimed_total', 'Pending entries reclaimed from idle consumers with XAUTOCLAIM', H),
    departedRemoved: counter(
      'quantum_gates_departed_consumers_removed_total',
      'Consumers removed from their group after DEPARTED_CONSUMER_IDLE_MS without reading and with nothing pending',
      H,
    ),
    commitFailures: counter(
      'quantum_gates_commit_failures_total',
      'Commits that did not apply, by cause: connection, timeout, oom, readonly, misconf, noperm, auth, noreplicas, unavailable, wrongtype, script, busy, other (each retried with backoff, its messages pending meanwhile), lost_ownership (entry reclaimed by another consumer)',
      ['handler', 'cause'],
    ),
    batchSize: histogram('quantum_gates_batch_size', 'Entries per batch read from a stream', [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000]),
    batchSeconds: histogram(
      'quantum_gates_batch_duration_seconds',
      'Time from handling a batch to its commit (for a commitEach gate, the governor and the outcome followers: one message)',
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    ),
    consumerUp: gauge('quantum_gates_consumer_up', '1 while a handler is consuming, 0 while it waits for Redis', H),
    consumerPending: gauge(
      'quantum_gates_consumer_pending',
      "Entries delivered to the handler's consumer group and not yet acknowledged",
      H,
    ),
    consumerLag: gauge('quantum_gates_consumer_lag', "Entries in the handler's stream not yet delivered to its consumer group", H),
    recreated: counter(
      'quantum_gates_recreated_total',
      'Things the runtime owns that had disappeared and were created again (consumer_group, job_scheduler)',
      ['handler', 'what'],
    ),
    redisUp: gauge('quantum_gates_redis_up', '1 while the runtime has a ready Redis connection', []),
    clockOffset: gauge(
      'quantum_gates_clock_offset_seconds',
      "This host's clock minus Redis's (TIME), as last measured: decisions read Redis's clock, so this is shown, not used",
      [],
    ),
  };
}

export type RuntimeMetrics = ReturnType<typeof runtimeMetrics>;

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
