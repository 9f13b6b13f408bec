import type * as z from 'zod';
import type { EffectWriter, Fields, JobSummary } from './effects.js';
import type { HttpDeclaration } from './http.js';
import type { KeyWatchDeclaration } from './key-watch.js';
import type { Logger } from './logger.js';
import type { MetricFactory } from './metrics.js';
import type { ReadCommand, RedisReader } from './redis-reader.js';

// A gate's declaration and its ctx; docs/writing-a-gate.md explains each member with an example.

type Async<T> = T | Promise<T>;

export interface MessageMeta {
  readonly id: string; // the stream id or the job id
  readonly raw: Fields; // every field, named by the schema or not
  readonly producedAt: number; // ms since the epoch, from the stream id (or the job's timestamp)
}

/** A message's ctx: reads, clock, settings, log, metrics (applied at commit), and its effects (EffectWriter). */
export interface HandlerContext<Config, State, Metrics> extends EffectWriter {
  readonly redis: RedisReader; // read-only: writes are effects
  now(): number; // ms since the epoch
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly state: State; // batch.loadState's, shared by the batch's messages (each its own with commitEach)
  readonly meta: MessageMeta;
  summarize(fields: JobSummary): void; // a job's return value, once committed; calls merge
}

export type StreamTrigger<Config> = Readonly<{ kind: 'stream'; stream: (c: Config) => string; group: (c: Config) => string }>;
export type ScheduleTrigger<Config> = Readonly<{ kind: 'schedule'; queue: string; everyMs: (c: Config) => number }>;
export type QueueTrigger = Readonly<{ kind: 'queue'; queue: string }>; // jobs other gates add with ctx.schedule
export type Trigger<Config> = StreamTrigger<Config> | ScheduleTrigger<Config> | QueueTrigger;

export type FailureInfo = Readonly<{ error: unknown; attempts: number }>;
/** After maxAttempts failed tries: dead-letter, or record `fallback`'s output (State may be what failed). */
export type FailurePolicy<Message, Config, State, Metrics> = {
  readonly maxAttempts: number;
  readonly backoffMs: number;
  readonly rejected?: (raw: Fields, ctx: HandlerContext<Config, undefined, Metrics>) => Async<void>; // safe output of a dead letter
  readonly unusable?: (raw: Fields, ctx: HandlerContext<Config, undefined, Metrics>) => Async<boolean>; // true: ack, no dead letter
} & (
  | { readonly policy: 'dead-letter' }
  | {
      readonly policy: 'fail-open' | 'fail-closed';
      readonly fallback: (message: Message, failure: FailureInfo, ctx: HandlerContext<Config, State | undefined, Metrics>) => Async<void>;
    }
);

/** Done while the key exists; or `{ key, id }`: done when the key holds a later stream id (newest wins). */
export type IdempotencyKey = string | { readonly key: string; readonly id: string };
/** Keys checked before `handle` and guarded in the commit; a duplicate runs `onDuplicate` instead. */
export interface IdempotencyDeclaration<Message, Config, State, Metrics> {
  readonly keys?: (message: Message, meta: MessageMeta) => readonly IdempotencyKey[];
  readonly onDuplicate: (message: Message, ctx: HandlerContext<Config, State, Metrics>) => Async<void>;
}

/**
 * A message's own keys, named from it (its plan_id's, its symbol's): no other decision reads them
 * unless its message names them too. All else a gate reads is its state (loadState); all else it
 * writes, state every later message reads. The runtime plans the reads, the shared state reads of
 * a commitEach gate and a large job's commit from them (docs/writing-a-gate.md "Own keys").
 */
export interface OwnKeys<Config, Input> {
  /** Every read `handle` makes of the message's own keys. */
  readonly reads?: (message: Input, meta: MessageMeta, config: Config, now: number) => readonly ReadCommand[];
  /** Whether `key`, written by the message's decision, is its own (or an output no decision reads). */
  readonly writes?: (key: string, message: Input, config: Config) => boolean;
}

/** For messages that share what they read. */
export interface BatchHints<Config, State, Metrics> {
  readonly loadState?: (redis: RedisReader, config: Config, now: number) => Promise<State>; // once per batch and retry
  /** Decisions build on each other (the governor's caps): each is decided on state read after the ones before it committed. */
  readonly commitEach?: boolean;
  readonly onRead?: (metrics: Metrics, entries: number) => void; // per batch read, applied at once
  /** Why this state keeps the gate from part of its work (an input Redis refuses to read): /ready's 503 cause until a load clears it. */
  readonly stateFault?: (state: State) => string | undefined;
  readonly refresh?: {
    readonly everyMs: (c: Config) => number;
    // first: the first run since the process started (a start-up check counts what it finds once)
    readonly apply: (state: State, metrics: Metrics, c: Config, run: { readonly first: boolean }) => void;
  };
}

export interface HandlerDeclaration<Schema extends z.ZodType = z.ZodType, Config = unknown, State = undefined, Metrics = object> {
  readonly name: string;
  readonly description: string;
  readonly trigger: Trigger<Config>;
  readonly input: Schema; // a message that fails it is dead-lettered at once
  readonly config: (env: Readonly<Record<string, string | undefined>>) => Config;
  readonly metrics: (factory: MetricFactory, config: Config) => Metrics;
  readonly mode?: (config: Config) => 'shadow' | 'enforce';
  readonly batch?: BatchHints<Config, State, Metrics>;
  readonly own?: OwnKeys<Config, z.infer<Schema>>;
  readonly http?: HttpDeclaration<Config, Metrics>;
  readonly failure: FailurePolicy<z.infer<Schema>, Config, State, Metrics>;
  readonly idempotency?: IdempotencyDeclaration<z.infer<Schema>, Config, State, Metrics>;
  readonly startLine?: (config: Config) => string; // logged at start: what the settings make the gate do (the governor's path and caps)
  /** Keys whose every write its decisions must see (key-watch.ts); read through ctx.redis.keysToRead(name). */
  readonly keyWatch?: (config: Config) => KeyWatchDeclaration;
  handle(message: z.infer<Schema>, ctx: HandlerContext<Config, State, Metrics>): Promise<void>;
}

/** Identity: infers the type parameters from the declaration. */
export const defineHandler = <S extends z.ZodType, C, St, M>(declaration: HandlerDeclaration<S, C, St, M>) => declaration;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- erased: the runtime passes a declaration only its own config and state
export type AnyHandler = HandlerDeclaration<z.ZodType, any, any, any>;
