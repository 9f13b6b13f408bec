import { FALLBACK, HANDLED, LEFT_PENDING, type Delivery } from './delivery.js';
import type { DeadLetterReason } from './dead-letter.js';
import type { AnyHandler, EarlierDecision, FailureInfo, HandlerContext, MessageMeta } from '../contract/handler.js';
import { guardFallback, handleOnce, idempotencyReads } from './idempotency.js';
import { PrefetchedReads } from './prefetch.js';
import { classifyRedisError, type ClassifiedError } from './redis-errors.js';
import { EffectRecorder, effectKey } from './effects.js';
import type { Logger } from '../contract/logger.js';
import { deferMetrics } from './metrics.js';
import type { RedisReader } from '../contract/redis-reader.js';

export type Reject = (delivery: Delivery, reason: DeadLetterReason, detail: string) => void;

export interface ExecutionEnv<Config, Metrics> extends ContextDeps<Config, Metrics> {
  /** False while the Redis connection is down: failures then are the system's, not the message's. */
  readonly redisReady: () => boolean;
  readonly waitForRedis: () => Promise<void>;
  readonly stopping: () => boolean;
  readonly sleep: (ms: number) => Promise<void>;
  /**
   * Reads Redis's clock in the round trip of each batch's reads, so `now` is Redis's from its answer
   * on; resolves with how far `now` was off it (redis-clock.ts). Absent where the clock is taped or faked.
   */
  readonly syncClock?: () => Promise<number>;
  readonly onRetry: (count: number) => void;
  /** A message held because Redis refused its reads for a cause of its own (an ACL, a failover): /ready names it meanwhile. */
  readonly onHeld?: (failure: ClassifiedError) => void;
  /** Jobs only: where the job is recorded as done. */
  readonly doneKey?: (meta: MessageMeta) => string;
  /** Given each batch state loaded (its gate's stateFault judges it for /ready). */
  readonly onState?: (state: unknown) => void;
  /** Told of each failure before its policy decides (the unit tests' harness throws it, so a test sees the error). */
  readonly onFailure?: (delivery: Delivery, failure: FailureInfo) => void;
}

export interface ContextDeps<Config, Metrics> {
  readonly redis: RedisReader;
  readonly config: Config;
  readonly metrics: Metrics;
  readonly now: () => number;
  /** Builds the message's logger on first use, so messages that never log pay nothing. */
  readonly logger: (meta: MessageMeta) => Logger;
  /** Wraps the reader and clock of each message and batch state: the tape records them, a rehearsal answers them. */
  readonly tape?: ReadThrough | undefined;
}

/**
 * The reader and clock a message's ctx, or a batch state's load, is given in place of `redis` and
 * `now`: the tape (app/tape) wraps them to record every reply and reading, the rehearsal
 * (cli/rehearse) answers them from what was recorded. The decision itself is decideBatch's either way.
 */
export interface ReadThrough {
  /** A message's reader and clock; `state` is its batch state, whose reads `batch` gave. */
  message(ctx: EffectRecorder & { readonly meta: MessageMeta }, state: unknown, redis: RedisReader, now: () => number): Taped;
  /** A batch state load's reader and clock; `loaded` is given the state it made, and returns it. */
  batch(redis: RedisReader, now: () => number): Taped & { loaded(state: unknown): unknown };
}

/** Records each decision for a rehearsal (app/tape): what its ctx and batch state read, its clock, what committed. */
export interface DecisionTape extends ReadThrough {
  /** Never throws, never waits: a decision stands whatever the tape does. A stop awaits `flushed` before closing Redis. */
  committed(handler: string, deliveries: readonly Delivery[]): void;
  flushed(): Promise<void>;
}
type Taped = { readonly redis: RedisReader; readonly now: () => number };

/** The ctx of one message: it is the message's EffectRecorder, so its effect methods are not forwarded one by one. */
export class MessageContext<Config, State, Metrics extends object>
  extends EffectRecorder
  implements HandlerContext<Config, State, Metrics>
{
  private boundLog: Logger | undefined;
  private deferredMetrics: Metrics | undefined;
  readonly redis: RedisReader;
  readonly config: Config;
  readonly now: () => number;

  constructor(
    private readonly deps: ContextDeps<Config, Metrics>,
    readonly state: State,
    readonly meta: MessageMeta,
  ) {
    super();
    const taped = deps.tape?.message(this, state, deps.redis, deps.now);
    this.redis = taped?.redis ?? deps.redis;
    this.now = taped?.now ?? deps.now;
    this.config = deps.config;
  }

  get log(): Logger {
    this.boundLog ??= this.deps.logger(this.meta);
    return this.boundLog;
  }
  get metrics(): Metrics {
    this.deferredMetrics ??= deferMetrics(this.deps.metrics, this.metricCalls);
    return this.deferredMetrics;
  }
}

/**
 * Each delivery's reads named ahead (BatchHints.prefetch) and its idempotency keys' reads, sent now;
 * undefined for a gate that names none. A prefetch that throws sends nothing: `handle` reads as usual.
 */
function prefetch<Config, Metrics>(
  handler: AnyHandler,
  env: ExecutionEnv<Config, Metrics>,
  deliveries: readonly Delivery[],
): Map<Delivery, PrefetchedReads> | undefined {
  const named = handler.batch?.prefetch;
  if (named === undefined) return undefined;
  const now = env.now();
  const ahead = new Map<Delivery, PrefetchedReads>();
  for (const delivery of deliveries) {
    try {
      const reads = [
        ...idempotencyReads(handler, delivery.message, delivery.meta, env.doneKey?.(delivery.meta)),
        ...named(delivery.message, delivery.meta, env.config, now),
      ];
      ahead.set(delivery, new PrefetchedReads(env.redis, reads));
    } catch {
      // Named reads are an optimisation: the handler makes them itself.
    }
  }
  return ahead;
}

/**
 * A batch's reads asked with a clock further than this off the TIME read beside them are read
 * again: a round trip takes a millisecond, and the health probe's TIME keeps the clock within a
 * second's drift of the host's (ppm), so only a jump of the host's clock, or a first read, gets here.
 */
const CLOCK_DRIFT_MS = 250;
/** After this many, the reads stand: the clock is then within redis-clock.ts's ANCHOR_SPAN_MS of Redis's (a host clock jumping on every read). */
const CLOCK_REREADS = 2;

/** The handler's batch state (undefined without loadState), its reads taped when a tape records. */
async function loadBatchState<Config, Metrics>(handler: AnyHandler, env: ExecutionEnv<Config, Metrics>): Promise<unknown> {
  const load = handler.batch?.loadState;
  const tape = load && env.tape?.batch(env.redis, env.now);
  if (!tape) return load?.(env.redis, env.config, env.now());
  return tape.loaded(await load!(tape.redis, env.config, tape.now()));
}

/**
 * The most messages of a sharesState gate decided on one state read before they commit: the first
 * of them waits for the others' decisions, each holds its reads and effects until then, and those
 * after the first a run refuses are read ahead for nothing. The governor's drain, 20,000 plans
 * (measured for 1.2.0, CHANGELOG.md): 1,555 plans/s and 134 MiB at 64; 1,686 and 145 MiB at 128; 1,246 and
 * 179 MiB at 500 (BATCH_SIZE's default, the whole read).
 */
const SHARED_RUN_MAX = 64;

/** The deliveries before `at`; those from it on are deferred (decided once those before commit). */
function deferFrom(todo: Delivery[], at: number): Delivery[] {
  for (const later of todo.slice(at)) later.deferred = true;
  return todo.slice(0, at);
}

/** A delivery decided before the next, as BatchHints.sharesState is told of it. */
function earlierDecision(delivery: Delivery): EarlierDecision {
  const writes = (delivery.recorder?.effects ?? []).map(effectKey);
  for (const emit of delivery.extraEmits ?? []) writes.push(emit.stream);
  return { message: delivery.message, writes };
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Runs `handle` for each delivery, one after another in batch order (effects are deferred to the
 * commit), and leaves on each its effects and outcome. A throwing message is retried with backoff on
 * reloaded state, then its failure policy decides. Failures while Redis is down or does not answer
 * are not charged. Stopping mid-retry leaves a delivery `left-pending`, for another consumer.
 */
export async function executeBatch<Config, Metrics extends object>(
  handler: AnyHandler,
  env: ExecutionEnv<Config, Metrics>,
  deliveries: readonly Delivery[],
  reject: Reject,
): Promise<void> {
  for (const delivery of deliveries) {
    delivery.outcome = LEFT_PENDING;
    delivery.recorder = undefined;
    delivery.extraEmits = undefined;
    delivery.attempts = 0;
    delivery.deferred = false;
  }
  const shares = handler.batch?.commitEach === true ? handler.batch.sharesState : undefined;
  const { maxAttempts, backoffMs } = handler.failure;
  let todo = deliveries.filter((d) => d.failedBefore === undefined);
  if (shares !== undefined) todo = deferFrom(todo, SHARED_RUN_MAX);
  for (const delivery of deliveries)
    if (delivery.failedBefore !== undefined) {
      delivery.attempts = delivery.failedBefore.attempts;
      await applyPolicy(handler, env, delivery, delivery.failedBefore, reject);
    }

  let clockRereads = 0;
  while (todo.length > 0) {
    if (env.stopping() && todo.some((d) => d.attempts > 0)) return;
    // Sent in the same tick as the state's reads: one round trip on an auto-pipelined connection.
    // Settled into a value at once: a TIME refused while the state loads is no unhandled rejection.
    const clockRead = env.syncClock?.().then(
      (wasOffMs) => ({ wasOffMs }),
      (error: unknown) => ({ error }),
    );
    const loading = loadBatchState(handler, env);
    const prefetched = prefetch(handler, env, todo);
    let loaded = await loading.then(
      (state): { state: unknown } | { error: unknown } => ({ state }),
      (error: unknown) => ({ error }),
    );
    const clock = await clockRead;
    if (clock && 'error' in clock) loaded = clock;
    else if (clock && clock.wasOffMs > CLOCK_DRIFT_MS && clockRereads < CLOCK_REREADS) {
      // Read with a clock off Redis's (the host's jumped since the last TIME): read again on Redis's.
      clockRereads += 1;
      continue;
    }
    if ('state' in loaded) env.onState?.(loaded.state);

    /** Each failed delivery's last error, until it succeeds or its policy decides. */
    const failed = new Map<Delivery, unknown>();
    // One after another, in stream order. A commitEach gate's batch is one message, on state read
    // after the last commit; or, with sharesState, the messages that read nothing an earlier one writes.
    const decided: EarlierDecision[] = [];
    for (const [at, delivery] of todo.entries()) {
      if (shares !== undefined && (failed.size > 0 || !shares(delivery.message, decided, env.config))) {
        todo = deferFrom(todo, at);
        break;
      }
      delivery.attempts += 1;
      if ('error' in loaded) {
        failed.set(delivery, loaded.error);
        continue;
      }
      const ahead = prefetched?.get(delivery);
      const ctx = new MessageContext(ahead ? { ...env, redis: ahead.reader(env.redis) } : env, loaded.state, delivery.meta);
      try {
        await handleOnce(handler, delivery.message, ctx, env.doneKey?.(delivery.meta));
        delivery.recorder = ctx;
        delivery.outcome = HANDLED;
        if (shares !== undefined) decided.push(earlierDecision(delivery));
      } catch (error) {
        failed.set(delivery, error);
      }
    }
    if (failed.size === 0) break;
    const failing = todo.filter((d) => failed.has(d));

    if (!env.redisReady()) {
      for (const delivery of failing) delivery.attempts -= 1;
      await env.waitForRedis();
      if (env.stopping()) return;
      todo = failing;
      continue;
    }

    // Redis's state (no answer, an ACL refusing, a failover, a load) is the system's failure, not
    // the message's, even before the health probe says so: charged, a stall of a few seconds or an
    // ACL slip used up a message's attempts and gave it its failure policy (a plan blocked
    // evaluation_error, counted toward auto-disarm). Held: retried, uncharged, until Redis accepts.
    let unanswered = false;
    const retrying: Delivery[] = [];
    for (const delivery of failing) {
      const classified = classifyRedisError(failed.get(delivery));
      if (classified.redisState) {
        unanswered = true;
        delivery.attempts -= 1;
        env.onHeld?.(classified);
        retrying.push(delivery);
      } else if (delivery.attempts >= maxAttempts) {
        await applyPolicy(handler, env, delivery, { error: failed.get(delivery), attempts: delivery.attempts }, reject);
      } else {
        retrying.push(delivery);
      }
    }
    todo = retrying;
    if (todo.length > 0) {
      env.onRetry(todo.length);
      const attempt = Math.max(1, ...todo.map((d) => d.attempts));
      await env.sleep(backoffMs * 2 ** (attempt - 1));
      // Left pending for this or another consumer when stopping while Redis does not answer.
      if (unanswered && env.stopping()) return;
    }
  }
}

export async function applyPolicy<Config, Metrics extends object>(
  handler: AnyHandler,
  env: ExecutionEnv<Config, Metrics>,
  delivery: Delivery,
  failure: FailureInfo,
  reject: Reject,
): Promise<void> {
  const failurePolicy = handler.failure;
  env.onFailure?.(delivery, failure);
  if (failurePolicy.policy === 'dead-letter') {
    reject(delivery, 'handler_failed', describeError(failure.error));
    return;
  }
  const ctx = new MessageContext(env, undefined, delivery.meta);
  try {
    guardFallback(handler, delivery.message, ctx, env.doneKey?.(delivery.meta));
    await failurePolicy.fallback(delivery.message, failure, ctx);
    ctx.log.warn(
      { err: describeError(failure.error), attempts: failure.attempts, policy: failurePolicy.policy },
      'handler failed; applied failure policy',
    );
    delivery.recorder = ctx;
    delivery.outcome = FALLBACK;
  } catch (fallbackError) {
    reject(delivery, 'fallback_failed', `${describeError(failure.error)}; fallback: ${describeError(fallbackError)}`);
  }
}
