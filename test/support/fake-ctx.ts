import type * as z from 'zod';
import { EffectRecorder } from '../../runtime/effects.js';
import type { AnyHandler, HandlerContext, HandlerDeclaration, Logger, MessageMeta } from '../../runtime/handler.js';
import { applyMetricCalls, type CounterMetric, type GaugeMetric, type HistogramMetric, type MetricFactory } from '../../runtime/metrics.js';
import { MessageContext } from '../../runtime/message-context.js';
import { FakeRedisReader, type FakeRedisData } from './fake-redis-reader.js';

/** The batch state type a handler declares (undefined allowed: fallbacks may run without it). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- only the State parameter is inferred
type StateOf<H> = H extends HandlerDeclaration<any, any, infer S, any> ? S | undefined : unknown;

/** Metric values recorded by a fake factory, keyed "name" or "name{label=value,...}". */
export class RecordedMetrics {
  readonly values = new Map<string, number>();

  key(name: string, labels?: Readonly<Record<string, string | number>>): string {
    if (!labels || Object.keys(labels).length === 0) return name;
    const parts = Object.keys(labels)
      .sort()
      .map((k) => `${k}=${labels[k]}`);
    return `${name}{${parts.join(',')}}`;
  }
  get(name: string, labels?: Readonly<Record<string, string | number>>): number | undefined {
    return this.values.get(this.key(name, labels));
  }
}

function splitArgs(args: unknown[]): [Record<string, string | number> | undefined, number | undefined] {
  if (typeof args[0] === 'object' && args[0] !== null) return [args[0] as Record<string, string | number>, args[1] as number | undefined];
  return [undefined, args[0] as number | undefined];
}

export function recordingMetricFactory(recorded: RecordedMetrics): MetricFactory {
  return {
    counter: (spec) =>
      ({
        inc: (...args: unknown[]) => {
          const [labels, by] = splitArgs(args);
          const key = recorded.key(spec.name, labels);
          recorded.values.set(key, (recorded.values.get(key) ?? 0) + (by ?? 1));
        },
      }) as CounterMetric<never>,
    gauge: (spec) =>
      ({
        set: (...args: unknown[]) => {
          const [labels, value] = splitArgs(args);
          recorded.values.set(recorded.key(spec.name, labels), value ?? 0);
        },
      }) as GaugeMetric<never>,
    histogram: (spec) =>
      ({
        observe: (...args: unknown[]) => {
          const [labels, value] = splitArgs(args);
          const key = recorded.key(spec.name, labels);
          recorded.values.set(key, value ?? 0);
        },
      }) as HistogramMetric<never>,
  } as MetricFactory;
}

export interface LogLine {
  readonly level: string;
  readonly obj: object;
  readonly msg?: string;
}

export interface FakeCtxOptions<Config> {
  /** Environment for the handler's own config parser (defaults apply for anything unset). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Or a ready-made config object, overriding env. */
  readonly config?: Partial<Config>;
  /** Redis contents the handler may read: strings, hashes, sets, sorted sets, streams. */
  readonly redis?: FakeRedisData;
  readonly now?: number;
  readonly meta?: Partial<MessageMeta>;
  /** Batch state; when omitted and the handler declares loadBatchState, it is loaded from `redis`. */
  readonly state?: unknown;
}

export interface FakeRun<Ctx> {
  readonly ctx: Ctx;
  readonly recorder: EffectRecorder;
  readonly metrics: RecordedMetrics;
  readonly logs: LogLine[];
  /** Applies the deferred metric updates, as the runtime does after a successful commit. */
  commit(): void;
  /** Effects of one kind, e.g. emitted('quantum:stream:harvest.calibrated'). */
  emitted(stream: string): Record<string, string>[];
}

/**
 * Builds the ctx a handler gets from the runtime, over an in-memory Redis, with a fixed clock
 * and recording metrics. Nothing touches a network; assertions go against the recorder.
 */
export async function fakeCtx<H extends AnyHandler>(
  handler: H,
  options: FakeCtxOptions<ReturnType<H['config']>> = {},
): Promise<FakeRun<HandlerContext<ReturnType<H['config']>, StateOf<H>, ReturnType<H['metrics']>>>> {
  const redis = new FakeRedisReader(options.redis ?? {});
  const config = { ...(handler.config(options.env ?? {}) as object), ...(options.config ?? {}) } as ReturnType<H['config']>;
  const recorded = new RecordedMetrics();
  const metrics = handler.metrics(recordingMetricFactory(recorded)) as object;
  const logs: LogLine[] = [];
  const logger: Logger = {
    debug: (obj, msg) => logs.push({ level: 'debug', obj, ...(msg === undefined ? {} : { msg }) }),
    info: (obj, msg) => logs.push({ level: 'info', obj, ...(msg === undefined ? {} : { msg }) }),
    warn: (obj, msg) => logs.push({ level: 'warn', obj, ...(msg === undefined ? {} : { msg }) }),
    error: (obj, msg) => logs.push({ level: 'error', obj, ...(msg === undefined ? {} : { msg }) }),
  };
  const now = options.now ?? 1_800_000_000_000;
  const state = 'state' in options ? options.state : handler.loadBatchState ? await handler.loadBatchState(redis, config, now) : undefined;
  const recorder = new EffectRecorder();
  const meta: MessageMeta = { source: 'test', id: `${now - 5}-0`, attempt: 1, raw: {}, producedAt: now - 5, ...options.meta };
  const ctx = new MessageContext({ redis, config, metrics, now: () => now, logger: () => logger }, recorder, state, meta);
  return {
    ctx: ctx as unknown as HandlerContext<ReturnType<H['config']>, StateOf<H>, ReturnType<H['metrics']>>,
    recorder,
    metrics: recorded,
    logs,
    commit: () => applyMetricCalls(recorder.metricCalls.splice(0)),
    emitted: (stream) => recorder.effects.flatMap((e) => (e.op === 'emit' && e.stream === stream ? [{ ...e.fields }] : [])),
  };
}

/**
 * Runs a handler on raw stream fields the way the runtime does: validate, then handle; returns
 * the run with deferred metrics applied. Invalid input throws with the zod issues.
 */
export async function runHandler<H extends AnyHandler>(
  handler: H,
  raw: Record<string, string>,
  options: FakeCtxOptions<ReturnType<H['config']>> = {},
): Promise<FakeRun<HandlerContext<ReturnType<H['config']>, StateOf<H>, ReturnType<H['metrics']>>> & { message: z.infer<H['input']> }> {
  const parsed = handler.input.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid input: ${JSON.stringify(parsed.error.issues)}`);
  const run = await fakeCtx(handler, { ...options, meta: { raw, ...options.meta } });
  await handler.handle(parsed.data, run.ctx);
  run.commit();
  return { ...run, message: parsed.data as z.infer<H['input']> };
}
