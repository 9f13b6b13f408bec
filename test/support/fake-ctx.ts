import type * as z from 'zod';
import { EffectRecorder, type Effect } from '../../runtime/engine/effects.js';
import type { AnyHandler, FailureInfo, HandlerContext, HandlerDeclaration, MessageMeta } from '../../runtime/contract/handler.js';
import type { Logger } from '../../runtime/contract/logger.js';
import { jobDoneKey } from '../../runtime/engine/idempotency.js';
import { decideBatch } from '../../runtime/engine/decide.js';
import { Delivery } from '../../runtime/engine/delivery.js';
import { applyMetricCalls } from '../../runtime/engine/metrics.js';
import type { CounterMetric, GaugeMetric, HistogramMetric, MetricFactory } from '../../runtime/contract/metrics.js';
import { directReads, MessageContext, type DecisionEnv } from '../../runtime/engine/execute.js';
import { FakeRedisReader, type FakeRedisData } from './fake-redis-reader.js';
import { keys } from '../../schemas/keys.js';

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
  /** Batch state; when omitted and the handler declares batch.loadState, it is loaded from `redis`. */
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
  const harness = await fakeHarness(handler, options);
  const loadState = handler.batch?.loadState;
  const state =
    'state' in options
      ? options.state
      : loadState
        ? await loadState(harness.deps.reads.redis, harness.deps.config, harness.now)
        : undefined;
  return harness.run(new MessageContext(harness.deps, state, harness.meta));
}

/** What a fake ctx is made of: the gate's config and recording metrics, an in-memory reader, a fixed clock, a recording logger. */
async function fakeHarness<H extends AnyHandler>(handler: H, options: FakeCtxOptions<ReturnType<H['config']>>) {
  const redis = new FakeRedisReader(options.redis ?? {});
  const config: unknown = { ...(handler.config(options.env ?? {}) as object), ...(options.config ?? {}) };
  const recorded = new RecordedMetrics();
  const metrics = handler.metrics(recordingMetricFactory(recorded), config as ReturnType<H['config']>) as object;
  const logs: LogLine[] = [];
  const logger: Logger = {
    debug: (obj, msg) => logs.push({ level: 'debug', obj, ...(msg === undefined ? {} : { msg }) }),
    info: (obj, msg) => logs.push({ level: 'info', obj, ...(msg === undefined ? {} : { msg }) }),
    warn: (obj, msg) => logs.push({ level: 'warn', obj, ...(msg === undefined ? {} : { msg }) }),
    error: (obj, msg) => logs.push({ level: 'error', obj, ...(msg === undefined ? {} : { msg }) }),
  };
  const now = options.now ?? 1_800_000_000_000;
  const meta: MessageMeta = { id: `${now - 5}-0`, raw: {}, producedAt: now - 5, ...options.meta };
  const deps: DecisionEnv = { reads: directReads(redis, () => now), config, metrics, logger: () => logger };
  const run = <Ctx>(recorder: EffectRecorder): FakeRun<Ctx> => ({
    ctx: recorder as unknown as Ctx,
    recorder,
    metrics: recorded,
    logs,
    commit: () => applyMetricCalls(recorder.metricCalls.splice(0)),
    emitted: (stream) => recorder.effects.flatMap((e) => (e.op === 'emit' && e.stream === stream ? [{ ...e.fields }] : [])),
  });
  return { deps, now, meta, run };
}

/** A job's effects without the runtime's record of it as done (every job's commit writes one). */
/** The samples a follow-up put in keys.outcomeDue: each one's horizon and when it is due, relative to `now`. */
export function dueSamples(effects: readonly Effect[], now: number): [horizon: string, dueInMs: number][] {
  return effects.flatMap((e) =>
    e.op === 'addToSortedSet' && e.key === keys.outcomeDue ? [[(JSON.parse(e.member) as { horizon: string }).horizon, e.score - now]] : [],
  );
}

export function withoutJobDone(effects: readonly Effect[]): Effect[] {
  return effects.filter((e) => !(e.op === 'setKey' && e.key.startsWith('quantum:gates:job-done:')));
}

type Ran<H extends AnyHandler> = FakeRun<HandlerContext<ReturnType<H['config']>, StateOf<H>, ReturnType<H['metrics']>>> & {
  message: z.infer<H['input']>;
};

/** Where the runtime records a job as done: jobs (schedule and queue triggers) only. */
function doneKeyOf(handler: AnyHandler): ((meta: MessageMeta) => string) | undefined {
  const trigger = handler.trigger;
  return trigger.kind === 'stream' ? undefined : (meta) => jobDoneKey(trigger.queue, meta.id);
}

function parseInput<H extends AnyHandler>(handler: H, raw: Record<string, string>): z.infer<H['input']> {
  const parsed = handler.input.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid input: ${JSON.stringify(parsed.error.issues)}`);
  return parsed.data as z.infer<H['input']>;
}

/**
 * Decides one message with the engine's own decideBatch (runtime/engine/decide.ts), as the runtime
 * and the rehearsal do: its unusable check, schema, batch state (the one given, else loaded from
 * `redis`), idempotency keys (a duplicate runs onDuplicate, not handle; the keys guarded, a job
 * recorded as done), handle, and its failure policy when `failedBefore` says it failed. A handler
 * that throws throws here (the test sees its error, not its fallback), as does a read held for
 * Redis's state.
 */
async function decideOne<H extends AnyHandler>(
  handler: H,
  raw: Record<string, string>,
  options: FakeCtxOptions<ReturnType<H['config']>>,
  failedBefore?: FailureInfo,
): Promise<Ran<H>> {
  const message = parseInput(handler, raw);
  // A job's id is its meta.id, as the job runner gives it (and its data's job_id).
  const jobId = handler.trigger.kind !== 'stream' && raw.job_id !== undefined ? { id: raw.job_id } : {};
  const harness = await fakeHarness(handler, { ...options, meta: { raw, ...jobId, ...options.meta } });
  const given = 'state' in options || failedBefore !== undefined;
  // A failure of its own goes to the test, not to the gate's failure policy (a given one goes to its fallback).
  let thrown: { readonly error: unknown } | undefined;
  const policy = handler.failure;
  const gate: AnyHandler = {
    ...handler,
    ...(given ? { batch: { ...handler.batch, loadState: () => Promise.resolve(options.state) } } : {}),
    failure: {
      ...policy,
      policy: policy.policy === 'dead-letter' ? 'fail-closed' : policy.policy,
      fallback: (message: unknown, failure: FailureInfo, ctx: HandlerContext<unknown, unknown, object>) => {
        if (failure === failedBefore && policy.policy !== 'dead-letter') return policy.fallback(message, failure, ctx);
        thrown = { error: failure.error };
        throw failure.error;
      },
    },
  };
  const delivery = new Delivery(harness.meta, raw, 1, undefined);
  delivery.failedBefore = failedBefore;
  const env: DecisionEnv = { ...harness.deps, doneKey: doneKeyOf(handler) };
  let rejected: string | undefined;
  await decideBatch(gate, env, [delivery], (_d, reason, detail) => (rejected = `${reason}: ${detail}`));
  if (thrown !== undefined) throw thrown.error;
  if (rejected !== undefined) throw new Error(`rejected ${rejected}`);
  if (delivery.outcome.kind === 'left-pending') throw new Error(`${handler.name}: a read was refused for Redis's own state (held)`);
  if (!(delivery.recorder instanceof MessageContext)) throw new Error(`${handler.name} decided nothing (${delivery.outcome.kind})`);
  const run = harness.run<HandlerContext<ReturnType<H['config']>, StateOf<H>, ReturnType<H['metrics']>>>(delivery.recorder);
  run.commit();
  return { ...run, message };
}

/**
 * Runs a handler on raw stream fields the way the runtime does (decideOne), and returns the run
 * with deferred metrics applied. Invalid input throws with the zod issues.
 */
export async function runHandler<H extends AnyHandler>(
  handler: H,
  raw: Record<string, string>,
  options: FakeCtxOptions<ReturnType<H['config']>> = {},
): Promise<Ran<H>> {
  return decideOne(handler, raw, options);
}

/**
 * Runs a handler's failure policy the way the runtime does after `failure.attempts` failed tries:
 * its fallback, with the idempotency guards (and a job's done record) the runtime adds. Batch
 * state is absent, as when loading it is what failed.
 */
export async function runFallback<H extends AnyHandler>(
  handler: H,
  raw: Record<string, string>,
  failure: FailureInfo,
  options: FakeCtxOptions<ReturnType<H['config']>> = {},
): Promise<Ran<H>> {
  if (handler.failure.policy === 'dead-letter') throw new Error(`${handler.name} dead-letters; it has no fallback`);
  return decideOne(handler, raw, { ...options, state: undefined }, failure);
}
