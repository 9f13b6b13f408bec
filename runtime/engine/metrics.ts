import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CounterMetric, GaugeMetric, HistogramMetric, MetricFactory } from '../contract/metrics.js';

export type { CounterMetric, GaugeMetric, HistogramMetric, Labels, MetricFactory, MetricSpec } from '../contract/metrics.js';

type AnyMetricCall = (...args: unknown[]) => void;

/** A factory backed by a prom-client registry; metrics of the same name are shared, not redefined. */
export function promMetricFactory(registry: Registry): MetricFactory {
  const existing = (name: string) => registry.getSingleMetric(name);
  return {
    counter(spec) {
      const metric =
        existing(spec.name) ??
        new Counter({ name: spec.name, help: spec.help, labelNames: [...(spec.labelNames ?? [])], registers: [registry] });
      return metric as unknown as CounterMetric<never>;
    },
    gauge(spec) {
      const metric =
        existing(spec.name) ??
        new Gauge({ name: spec.name, help: spec.help, labelNames: [...(spec.labelNames ?? [])], registers: [registry] });
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

/**
 * Metric updates held back until their message commits, as flat slots (target, method, a, b)
 * rather than an object and an argument array per call: the heat gate makes several per message.
 */
export type DeferredMetricCalls = unknown[];

const SLOT = 4;

export function applyMetricCalls(calls: DeferredMetricCalls): void {
  for (let i = 0; i < calls.length; i += SLOT) {
    const target = calls[i] as Record<string, AnyMetricCall>;
    const method = calls[i + 1] as 'inc' | 'set' | 'observe';
    const a = calls[i + 2];
    const b = calls[i + 3];
    if (b === undefined) target[method]!(a);
    else target[method]!(a, b);
  }
}

/** Stands in for one metric, queueing calls instead of applying them. Prototype methods: no closures per message. */
class DeferredMetric {
  constructor(
    private readonly target: Record<string, AnyMetricCall>,
    private readonly queue: DeferredMetricCalls,
  ) {}
  inc(a?: unknown, b?: unknown): void {
    this.queue.push(this.target, 'inc', a, b);
  }
  set(a?: unknown, b?: unknown): void {
    this.queue.push(this.target, 'set', a, b);
  }
  observe(a?: unknown, b?: unknown): void {
    this.queue.push(this.target, 'observe', a, b);
  }
}

/**
 * Wraps a handler's metrics so each call is queued on `queue` instead of applied: the runtime
 * applies the queue only after the message's commit succeeded, so a retried or conflicted
 * message never counts twice.
 *
 * Built per message, so it is one small object: each metric is a getter on a prototype made once
 * per metrics object, answering a DeferredMetric for this message's queue when it is used (a
 * message uses a few of a gate's metrics; wrapping all of them up front was ~1 KB a message).
 */
export function deferMetrics<M extends object>(metrics: M, queue: DeferredMetricCalls): M {
  let View = deferredViews.get(metrics);
  if (View === undefined) deferredViews.set(metrics, (View = deferredView(metrics)));
  return new View(queue) as M;
}

type DeferredView = new (queue: DeferredMetricCalls) => object;
const deferredViews = new WeakMap<object, DeferredView>();

function deferredView(metrics: object): DeferredView {
  // A private field, so no metric's name can shadow it.
  class View {
    readonly #queue: DeferredMetricCalls;
    constructor(queue: DeferredMetricCalls) {
      this.#queue = queue;
    }
    static queueOf(view: View): DeferredMetricCalls {
      return view.#queue;
    }
  }
  for (const key in metrics) {
    const target = (metrics as Record<string, Record<string, AnyMetricCall>>)[key]!;
    Object.defineProperty(View.prototype, key, {
      get(this: View) {
        return new DeferredMetric(target, View.queueOf(this));
      },
      enumerable: true,
    });
  }
  return View;
}

/** Metrics of the runtime itself, shared by every handler (labelled by handler). */
/** The runtime's own metrics; `build` is what quantum_gates_build_info names (the host's buildInfo()). */
export function runtimeMetrics(registry: Registry, build: { readonly version: string; readonly commit: string }) {
  const labelNames = ['handler'] as const;
  // Always 1; the labels say what runs, so a dashboard or an alert can join on them.
  const info = new Gauge({
    name: 'quantum_gates_build_info',
    help: 'Version and git commit of the running quantum-gates build (always 1)',
    labelNames: ['version', 'commit'],
    registers: [registry],
  });
  info.set({ version: build.version, commit: build.commit }, 1);
  return {
    buildInfo: info,
    messages: new Counter({
      name: 'quantum_gates_messages_total',
      help: 'Messages finished by a handler, by outcome (handled, fallback, dead-letter, skipped, unusable, superseded)',
      labelNames: ['handler', 'outcome'],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'quantum_gates_dead_letters_total',
      help: 'Messages moved to the dead-letter stream, by reason',
      labelNames: ['handler', 'reason'],
      registers: [registry],
    }),
    deadLettersTrimmed: new Counter({
      name: 'quantum_gates_dead_letters_trimmed_total',
      help: "Dead letters removed from the handler's dead-letter stream by its DLQ_MAXLEN bound (lost unless replayed before)",
      labelNames: ['handler'],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'quantum_gates_retries_total',
      help: 'Handler attempts that threw and were retried',
      labelNames,
      registers: [registry],
    }),
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
    departedRemoved: new Counter({
      name: 'quantum_gates_departed_consumers_removed_total',
      help: 'Consumers removed from their group after DEPARTED_CONSUMER_IDLE_MS without reading and with nothing pending',
      labelNames,
      registers: [registry],
    }),
    commitFailures: new Counter({
      name: 'quantum_gates_commit_failures_total',
      help: 'Commits that did not apply, by cause: connection, timeout, oom, readonly, misconf, wrongtype, script, busy, other (each retried with backoff, its messages pending meanwhile), lost_ownership (entry reclaimed by another consumer)',
      labelNames: ['handler', 'cause'],
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
    consumerUp: new Gauge({
      name: 'quantum_gates_consumer_up',
      help: '1 while a handler is consuming, 0 while it waits for Redis',
      labelNames,
      registers: [registry],
    }),
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
    recreated: new Counter({
      name: 'quantum_gates_recreated_total',
      help: 'Things the runtime owns that had disappeared and were created again (consumer_group, job_scheduler)',
      labelNames: ['handler', 'what'],
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
