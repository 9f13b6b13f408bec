import type * as z from 'zod';
import type { EffectWriter, JobSummary } from '../engine/effects.js';
import type { MetricFactory } from '../engine/metrics.js';
import type { RedisReader } from './redis-reader.js';
import type { AnyStatusSection } from './status-section.js';

/** The slice of a pino logger handlers use. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Where the message came from: a stream entry or a BullMQ job. */
export interface MessageMeta {
  readonly source: string;
  readonly id: string;
  /** 1 on the first try; counts in-process retries. */
  readonly attempt: number;
  /** The entry's raw fields (or a job's data), for carrying fields the schema does not name. */
  readonly raw: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch at which the entry was produced (from its stream id). */
  readonly producedAt: number;
}

export interface HandlerContext<Config, State, Metrics> extends EffectWriter {
  /** Read-only Redis; writes go through the effect methods. */
  readonly redis: RedisReader;
  /** Milliseconds since the epoch. */
  now(): number;
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Shared state loaded once per batch by the declaration's batch.loadState. */
  readonly state: State;
  readonly meta: MessageMeta;
  /**
   * A few fields saying what this message did (counts, which input was used). For a job (a
   * schedule tick or a scheduled job) they become its BullMQ return value, shown in the
   * dashboard, once the job's commit applied; a stream entry has nowhere to show them. Calls merge.
   */
  summarize(fields: JobSummary): void;
}

export type StreamTrigger<Config> = {
  readonly kind: 'stream';
  readonly stream: (config: Config) => string;
  readonly group: (config: Config) => string;
};

/** Runs every `everyMs` through a BullMQ job scheduler: one job per tick, taken by one replica. */
export type ScheduleTrigger<Config> = {
  readonly kind: 'schedule';
  readonly queue: string;
  readonly everyMs: (config: Config) => number;
};

/** Consumes jobs other handlers add with ctx.schedule (for example cooldown expiry). */
export type QueueTrigger = { readonly kind: 'queue'; readonly queue: string };

export type Trigger<Config> = StreamTrigger<Config> | ScheduleTrigger<Config> | QueueTrigger;

export interface FailureInfo {
  readonly error: unknown;
  readonly attempts: number;
}

/**
 * What happens after maxAttempts failed tries. fail-open and fail-closed both record a
 * declared output through `fallback` (the difference is what the output means: let the action
 * through, or its safe form); dead-letter moves the message to the dead-letter stream.
 */
export type FailurePolicy<Message, Config, State, Metrics> = {
  readonly maxAttempts: number;
  readonly backoffMs: number;
  /**
   * The safe output of a message dead-lettered without being handled (its input failed the
   * schema, or it was delivered more than MAX_DELIVERIES times), from its raw fields: what it
   * records commits together with the dead letter. The heat gate leaves the proposal hash in its
   * safe form here in enforce mode, rather than leave the unchecked proposal in force.
   */
  readonly rejected?: (raw: Readonly<Record<string, string>>, ctx: HandlerContext<Config, undefined, Metrics>) => void | Promise<void>;
  /**
   * Entries a real producer writes that this gate cannot use (the heat gate's input stream also
   * carries another service's decisions): asked before the schema, from the raw fields. True: the
   * entry is acknowledged with what the hook recorded (its count by reason, any safe output) and
   * no dead letter; it counts as outcome `unusable` in quantum_gates_messages_total. The
   * dead-letter stream stays for entries nobody should write.
   */
  readonly unusable?: (
    raw: Readonly<Record<string, string>>,
    ctx: HandlerContext<Config, undefined, Metrics>,
  ) => boolean | Promise<boolean>;
} & (
  | { readonly policy: 'dead-letter' }
  | {
      readonly policy: 'fail-open' | 'fail-closed';
      // State may be missing: loading it may be what failed.
      readonly fallback: (
        message: Message,
        failure: FailureInfo,
        ctx: HandlerContext<Config, State | undefined, Metrics>,
      ) => void | Promise<void>;
    }
);

/**
 * A key saying a message was done already. A string: done while the key exists; the gate writes
 * it itself among its effects (a dedupe key with its TTL, a permit). `{ key, id }`, newest wins:
 * done when the key holds a stream id later than `id` (this message's); the commit stores `id`
 * there with the message's effects (EffectWriter.onlyIfNewer).
 */
export type IdempotencyKey = string | { readonly key: string; readonly id: string };

/**
 * Declared idempotency: the runtime checks the keys before `handle` and guards them in the
 * commit, so no gate hand-writes "check early, then guard at commit". A duplicate found before
 * `handle` runs `onDuplicate` instead; one that appears while the message is handled is caught by
 * the commit: an existence key makes the message run again (and find the duplicate), a
 * newest-wins key has it acknowledged without its effects, with `onDuplicate`'s metric updates.
 *
 * A job (schedule or queue trigger) needs no key of its own: the runtime records every job it
 * completes, handled or by its fallback, in the job's commit (quantum:gates:job-done:{queue}:{id},
 * TTL one day) and treats a job found there as a duplicate. A dead-lettered job is not recorded.
 */
export interface IdempotencyDeclaration<Message, Config, State, Metrics> {
  /**
   * The message's keys, from the message and its meta alone: the runtime checks them while the
   * batch state loads, and guards them in a fallback's commit too.
   */
  readonly keys?: (message: Message, meta: MessageMeta) => readonly IdempotencyKey[];
  /**
   * Runs instead of `handle` for a duplicate: count it, log it. For a newest-wins key found at
   * commit it runs there, synchronously: only the metric updates it makes before any await count.
   */
  readonly onDuplicate: (message: Message, ctx: HandlerContext<Config, State, Metrics>) => void | Promise<void>;
}

/** One HTTP answer, byte for byte: status, content type, body and any further headers. */
export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A /health answer is an HTTP answer like any other. */
export type HealthAnswer = HttpAnswer;

/** What a gate's health answer may be built from; the runtime provides it at each request. */
export interface HealthProbe<Config> {
  readonly config: Config;
  /** PING on the command connection; rejects when Redis does not answer. */
  ping(): Promise<void>;
  /** The process's /metrics answer (prometheus_client's server gave it on every path). */
  metrics(): Promise<HealthAnswer>;
  /** The value of an unlabelled metric of the process; undefined when it has none. */
  metricValue(name: string): Promise<number | undefined>;
  /** Every series of a metric of the process with its labels; empty when it has none. */
  metricSeries(name: string): Promise<readonly { readonly labels: Readonly<Record<string, string | number>>; readonly value: number }[]>;
  /** Entries pending in the gate's consumer group (stream gates; 0 before the first look). */
  readonly pending: number;
  /** Milliseconds the gate's last read-and-handle loop took (stream gates; 0 before the first). */
  readonly lastLoopMs: number;
}

/**
 * The original service's GET /health, declared by the gate so the runtime need not know any
 * gate: the answer, and a port of its own where the original served health apart (P2.7).
 */
export interface HealthDeclaration<Config> {
  answer(probe: HealthProbe<Config>): Promise<HealthAnswer>;
  /** undefined: /health on the runtime's PORT only. */
  port?(config: Config): number | undefined;
}

/**
 * For gates whose original ran prometheus_client's start_http_server as its only HTTP server:
 * that server answered every path, /health included, with the metrics exposition.
 */
export const metricsAsHealth: HealthDeclaration<unknown> = { answer: (probe) => probe.metrics() };

/**
 * The original service's own GET /metrics text, for a gate whose original wrote it by hand
 * (P2.7's untyped lines, which upstream's proof scripts read with grep | awk). Served on PORT by
 * a process that hosts only this gate, to a client that does not ask for Prometheus's exposition
 * format (curl, a script); a scraper that asks for it (Prometheus's Accept header names
 * text/plain;version=0.0.4 or application/openmetrics-text) gets the runtime's exposition.
 */
export interface MetricsDeclaration<Config> {
  answer(probe: HealthProbe<Config>): Promise<HttpAnswer>;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** An HTTP request as a gate's route sees it: Fastify's parsing, none of Fastify's types. */
export interface RouteRequest {
  readonly method: string;
  /** The path's named segments (`:symbol`), decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** The query string; a repeated parameter is an array in the order given. */
  readonly query: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/**
 * Redis as a route may use it. Reads as ctx.redis; and, since a request is no stream message
 * with a commit to join, the few direct writes an original's HTTP API made (a test-mode state
 * injection). A route that changes what gates decide should append to a stream instead.
 */
export interface RouteRedis extends RedisReader {
  /** HGETALL as Redis sends it (field, value, ...): keeps the hash's own field order, which an object loses for integer-like fields. */
  call(command: 'HGETALL', key: string): Promise<unknown>;
  hset(key: string, field: string, value: string): Promise<number>;
  expire(key: string, seconds: number): Promise<number>;
}

export interface RouteContext<Config, Metrics> {
  readonly config: Config;
  /** Applied at once: a request has no commit to wait for. */
  readonly metrics: Metrics;
  readonly redis: RouteRedis;
  readonly log: Logger;
  /** Milliseconds since the epoch. */
  now(): number;
}

/**
 * One route of the gate's own HTTP API (the budget engine's /budget/{symbol}, say), served by
 * every process that hosts the gate. An answer that throws becomes a plain 500.
 */
export interface RouteDeclaration<Config, Metrics> {
  readonly methods: readonly HttpMethod[];
  /** Fastify's path syntax: `:name` captures one segment. */
  readonly path: string;
  answer(request: RouteRequest, ctx: RouteContext<Config, Metrics>): HttpAnswer | Promise<HttpAnswer>;
}

/** What a gate serves over HTTP, beside the runtime's /metrics, /ready and status page. */
export interface HttpDeclaration<Config, Metrics> {
  /** The original's /health answer (see HealthDeclaration); without it, the runtime's liveness body. */
  readonly health?: HealthDeclaration<Config>;
  /** The original's own /metrics text (see MetricsDeclaration); without it, the runtime's exposition only. */
  readonly metrics?: MetricsDeclaration<Config>;
  readonly routes?: readonly RouteDeclaration<Config, Metrics>[];
  /** Its sections of the status page, GET /status and `quantum-gates status` (runtime/contract/status-section.ts). */
  readonly status?: readonly AnyStatusSection<Config>[];
}

/**
 * Batch-level hints, for gates whose messages share what they read: state loaded once per batch,
 * a per-batch counter, and whether the next batch may be handled while this one commits.
 */
export interface BatchHints<Config, State, Metrics> {
  /**
   * State read once per batch and shared by its messages as ctx.state (the heat gate's equity and
   * positions); reloaded before each retry.
   */
  readonly loadState?: (redis: RedisReader, config: Config, now: number) => Promise<State>;
  /**
   * Called once per batch read from the gate's stream, before its messages are handled, with the
   * gate's metrics (applied at once, not deferred): for per-batch counters such as the bridge's
   * p27_loops_total.
   */
  readonly onRead?: (metrics: Metrics, entries: number) => void;
  /**
   * Set false when neither the batch state nor the handler's reads depend on what its own earlier
   * messages wrote (the heat gate reads positions that other services write). The runtime then
   * handles the next batch while the previous one commits, so the commit's round trip costs no
   * throughput. Default true: every batch sees every earlier commit.
   */
  readonly readsOwnWrites?: boolean;
  /**
   * Gauges computed from the batch state without waiting for a message (the heat gate's
   * portfolio heat): the runtime loads the state at start and every `everyMs`, in each replica
   * on its own, and calls `apply` with it. Read-only: metrics are set at once, nothing is
   * committed; a failed load is logged and the next one tries again.
   */
  readonly refresh?: {
    readonly everyMs: (config: Config) => number;
    readonly apply: (state: State, metrics: Metrics, config: Config) => void;
  };
}

export interface HandlerDeclaration<Schema extends z.ZodType = z.ZodType, Config = unknown, State = undefined, Metrics = object> {
  readonly name: string;
  readonly description: string;
  readonly trigger: Trigger<Config>;
  /** Validates and types the input; a message that fails is dead-lettered at once. */
  readonly input: Schema;
  /** Parses this handler's environment variables (names from the seeds). */
  readonly config: (env: Readonly<Record<string, string | undefined>>) => Config;
  /**
   * Declares the gate's metrics, once at start, and sets any start values they take from the
   * configuration (a mode gauge, series exported at 0 from the start).
   */
  readonly metrics: (factory: MetricFactory, config: Config) => Metrics;
  /** shadow (decide and record only) or enforce, for handlers that have the distinction; shown on the status page. */
  readonly mode?: (config: Config) => 'shadow' | 'enforce';
  /** Batch-level hints (see BatchHints); without them each message stands alone. */
  readonly batch?: BatchHints<Config, State, Metrics>;
  /** The gate's HTTP surface: its original /health answer and its own routes. */
  readonly http?: HttpDeclaration<Config, Metrics>;
  readonly failure: FailurePolicy<z.infer<Schema>, Config, State, Metrics>;
  /** What makes a message a duplicate of one already done (see IdempotencyDeclaration). */
  readonly idempotency?: IdempotencyDeclaration<z.infer<Schema>, Config, State, Metrics>;
  handle(message: z.infer<Schema>, ctx: HandlerContext<Config, State, Metrics>): void | Promise<void>;
}

/** Identity helper that infers the type parameters from the declaration. */
export function defineHandler<Schema extends z.ZodType, Config, State, Metrics>(
  declaration: HandlerDeclaration<Schema, Config, State, Metrics>,
): HandlerDeclaration<Schema, Config, State, Metrics> {
  return declaration;
}

/**
 * The registry's element type. The declaration's type parameters are erased here, which is
 * sound because the runtime only ever passes a declaration its own parsed config and state.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- erased type parameters, see above
export type AnyHandler = HandlerDeclaration<z.ZodType, any, any, any>;
