import { FALLBACK, HANDLED, LEFT_PENDING, type Delivery } from './delivery.js';
import type { DeadLetterReason } from './dead-letter.js';
import type { AnyHandler, FailureInfo, HandlerContext, MessageMeta } from '../contract/handler.js';
import { guardFallback, handleOnce, idempotencyReads } from './idempotency.js';
import { PrefetchedReads } from './prefetch.js';
import { classifyRedisError, type ClassifiedError } from './redis-errors.js';
import { EffectRecorder, effectKey } from './effects.js';
import type { Logger } from '../contract/logger.js';
import { deferMetrics } from './metrics.js';
import type { ReadCommand, RedisReader } from '../contract/redis-reader.js';

export type Reject = (delivery: Delivery, reason: DeadLetterReason, detail: string) => void;

/** What a decision needs: where it reads and its clock (`reads`), the gate's settings and metrics, a logger. */
export interface DecisionEnv<Config = unknown, Metrics = object> {
  readonly reads: Reads;
  readonly config: Config;
  readonly metrics: Metrics;
  /** Builds the message's logger on first use, so messages that never log pay nothing. */
  readonly logger: (meta: MessageMeta) => Logger;
  /** Jobs only: where the job is recorded as done. */
  readonly doneKey?: ((meta: MessageMeta) => string) | undefined;
}

/**
 * Where a decision reads and what its clock says: each message's ctx and each batch state's load
 * asks for its own reader and clock. The runtime's read Redis on its clock (directReads); the tape
 * (app/tape) wraps them to record every reply and reading; a rehearsal (cli/rehearse) answers them
 * from what was recorded. The decision itself is decideBatch's either way.
 */
export interface Reads {
  /** The reader a message's own reads (OwnKeys.reads) are sent ahead on. */
  readonly redis: RedisReader;
  readonly now: () => number;
  /**
   * Reads Redis's clock in the round trip of a batch's reads when its last reading is stale, so `now`
   * is Redis's from its answer on; resolves with how far `now` was off it, 0 when nothing was read
   * (redis-clock.ts). Absent where the clock is taped or faked.
   */
  readonly syncClock?: () => Promise<number>;
  /** A message's reader and clock; `redis` is the reader it would be given (the reads named ahead answered first), `state` its batch state. */
  message(ctx: EffectRecorder & { readonly meta: MessageMeta }, state: unknown, redis: RedisReader): Taped;
  /** A batch state load's reader and clock; `loaded` is given the state it made, and returns it. */
  batch(): Taped & { loaded(state: unknown): unknown };
}
export type Taped = { readonly redis: RedisReader; readonly now: () => number };

/** Reads as they are: Redis (or a fake of it) and the clock given. */
export function directReads(redis: RedisReader, now: () => number, syncClock?: () => Promise<number>): Reads {
  return {
    redis,
    now,
    ...(syncClock ? { syncClock } : {}),
    message: (_ctx, _state, reader) => ({ redis: reader, now }),
    batch: () => ({ redis, now, loaded: (state) => state }),
  };
}

/** Records each decision for a rehearsal (app/tape): what its ctx and batch state read, its clock, what committed. */
export interface DecisionTape {
  /** `reads`, recording what each message and batch state read and when. */
  wrap(reads: Reads): Reads;
  /** Never throws, never waits: a decision stands whatever the tape does. A stop awaits `flushed` before closing Redis. */
  committed(handler: string, deliveries: readonly Delivery[]): void;
  flushed(): Promise<void>;
}

/**
 * How the live runtime waits between a batch's tries (runtime/sources/pipeline.ts). Without it (a
 * rehearsal, a unit test) nothing waits: Redis is taken as up, tries follow at once, and a read
 * Redis refused for its own state leaves its message pending (left-pending).
 */
export interface Pace {
  /** False while the Redis connection is down: failures then are the system's, not the message's. */
  readonly redisReady: () => boolean;
  readonly waitForRedis: () => Promise<void>;
  readonly stopping: () => boolean;
  readonly sleep: (ms: number) => Promise<void>;
  readonly onRetry: (count: number) => void;
  /** A message held because Redis refused its reads for a cause of its own (an ACL, a failover): /ready names it meanwhile. */
  readonly onHeld: (failure: ClassifiedError) => void;
  /** Given each batch state loaded (its gate's stateFault judges it for /ready). */
  readonly onState: (state: unknown) => void;
}

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
    private readonly deps: DecisionEnv<Config, Metrics>,
    readonly state: State,
    readonly meta: MessageMeta,
    reader: RedisReader = deps.reads.redis,
  ) {
    super();
    const taped = deps.reads.message(this, state, reader);
    this.redis = taped.redis;
    this.now = taped.now;
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

/** A message's own reads, sent ahead, and the keys they read. */
type Ahead = { readonly reads: PrefetchedReads; readonly keys: ReadonlySet<string> };

/**
 * Each delivery's own reads (OwnKeys.reads) and its idempotency keys' reads, sent now, with the
 * batch state's: at upstream's rates a plan arrives alone, and its decision is then three round
 * trips one after another (state and own reads, commit, jobs), not five (state, idempotency keys,
 * symbol, commit, jobs): test/integration/governor-round-trips.test.ts counts them. Undefined
 * for a gate that declares no own reads; a delivery whose reads throw is missing from the map.
 */
function sendAhead<Config, Metrics>(
  handler: AnyHandler,
  env: DecisionEnv<Config, Metrics>,
  deliveries: readonly Delivery[],
): Map<Delivery, Ahead> | undefined {
  const named = handler.own?.reads;
  if (named === undefined) return undefined;
  const now = env.reads.now();
  const ahead = new Map<Delivery, Ahead>();
  for (const delivery of deliveries) {
    try {
      const reads = [
        ...idempotencyReads(handler, delivery.message, delivery.meta, env.doneKey?.(delivery.meta)),
        ...named(delivery.message, delivery.meta, env.config, now),
      ];
      ahead.set(delivery, { reads: new PrefetchedReads(env.reads.redis, reads), keys: new Set(reads.flatMap(keysRead)) });
    } catch {
      // Its reads unknown: `handle` makes them itself, and it shares no state read with those before it.
    }
  }
  return ahead;
}

const keysRead = (read: ReadCommand): readonly string[] => (read[0] === 'EXISTS' ? read.slice(1) : [read[1]]);

/**
 * The messages of a commitEach gate with OwnKeys.writes decided on one state read, before they
 * commit: a message joins while it reads none of the keys those before it wrote, and they wrote
 * only their own. Beyond that the state it would read after their commits is the one read.
 */
class SharedRun {
  private readonly written = new Set<string>();
  private closed = false;
  constructor(private readonly ownWrite: (key: string, message: unknown) => boolean) {}

  admits(keys: ReadonlySet<string> | undefined): boolean {
    if (this.written.size === 0 && !this.closed) return true;
    if (this.closed || keys === undefined) return false;
    for (const key of keys) if (this.written.has(key)) return false;
    return true;
  }

  decided(delivery: Delivery): void {
    const keys = (delivery.recorder?.effects ?? []).map(effectKey);
    for (const key of keys) if (!this.ownWrite(key, delivery.message)) this.closed = true;
    for (const key of keys) this.written.add(key);
  }
}

/**
 * A batch's reads asked with a clock further than this off the TIME read beside them are read
 * again: a round trip takes a millisecond and the monotonic clock drifts microseconds a second, so
 * only a first read, or a step of Redis's own clock, gets here.
 */
const CLOCK_DRIFT_MS = 250;
/** After this many, the reads stand (Redis's clock stepping at every TIME). */
const CLOCK_REREADS = 2;

/** The handler's batch state (undefined without loadState), its reads taped when a tape records. */
async function loadBatchState<Config, Metrics>(handler: AnyHandler, env: DecisionEnv<Config, Metrics>): Promise<unknown> {
  const load = handler.batch?.loadState;
  if (load === undefined) return undefined;
  const taped = env.reads.batch();
  return taped.loaded(await load(taped.redis, env.config, taped.now()));
}

/**
 * The most messages of a shared run: the first of them waits for the others' decisions, each holds
 * its reads and effects until then. The governor's drain, 20,000 plans (measured for 1.2.0,
 * CHANGELOG.md): 1,555 plans/s and 134 MiB at 64; 1,686 and 145 MiB at 128; 1,246 and 179 MiB at
 * 500 (BATCH_SIZE's default, the whole read). At upstream's rates (≤ 0.6 plans/s, each read alone:
 * a batch of one) a run is one plan and neither this bound nor shared runs act: they are a
 * backlog's (issue #72: a drain of 1,421-1,444 plans/s against 232-306 without shared runs).
 */
const SHARED_RUN_MAX = 64;

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Steps 3 to 5 of decideBatch (decide.ts) for valid deliveries. Stopping mid-retry leaves a delivery
 * `left-pending`, for another consumer. Resolves with the deliveries left for a later run (SharedRun),
 * in batch order; they are `left-pending` meanwhile.
 */
export async function executeBatch<Config, Metrics extends object>(
  handler: AnyHandler,
  env: DecisionEnv<Config, Metrics>,
  deliveries: readonly Delivery[],
  reject: Reject,
  pace?: Pace,
): Promise<readonly Delivery[]> {
  for (const delivery of deliveries) {
    delivery.outcome = LEFT_PENDING;
    delivery.recorder = undefined;
    delivery.extraEmits = undefined;
    delivery.attempts = 0;
  }
  const ownWrite = handler.batch?.commitEach === true ? handler.own?.writes : undefined;
  const shares = ownWrite && ((key: string, message: unknown) => ownWrite(key, message, env.config));
  const { maxAttempts, backoffMs } = handler.failure;
  let todo = deliveries.filter((d) => d.failedBefore === undefined);
  let later: readonly Delivery[] = [];
  if (shares !== undefined) [todo, later] = [todo.slice(0, SHARED_RUN_MAX), todo.slice(SHARED_RUN_MAX)];
  for (const delivery of deliveries)
    if (delivery.failedBefore !== undefined) {
      delivery.attempts = delivery.failedBefore.attempts;
      await applyPolicy(handler, env, delivery, delivery.failedBefore, reject);
    }

  let clockRereads = 0;
  while (todo.length > 0) {
    if (pace?.stopping() === true && todo.some((d) => d.attempts > 0)) return later;
    // Sent in the same tick as the state's reads: one round trip on an auto-pipelined connection.
    // Settled into a value at once: a TIME refused while the state loads is no unhandled rejection.
    const clockRead = env.reads.syncClock?.().then(
      (wasOffMs) => ({ wasOffMs }),
      (error: unknown) => ({ error }),
    );
    const loading = loadBatchState(handler, env);
    const prefetched = sendAhead(handler, env, todo);
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
    if ('state' in loaded) pace?.onState(loaded.state);

    /** Each failed delivery's last error, until it succeeds or its policy decides. */
    const failed = new Map<Delivery, unknown>();
    // One after another, in stream order. A commitEach gate's batch is one message, on state read
    // after the last commit; or, with own writes declared, the messages that read nothing an earlier one wrote.
    const run = shares && new SharedRun(shares);
    for (const [at, delivery] of todo.entries()) {
      const ahead = prefetched?.get(delivery);
      if (run !== undefined && (failed.size > 0 || !run.admits(ahead?.keys))) {
        later = [...todo.slice(at), ...later];
        todo = todo.slice(0, at);
        break;
      }
      delivery.attempts += 1;
      if ('error' in loaded) {
        failed.set(delivery, loaded.error);
        continue;
      }
      const ctx = new MessageContext(env, loaded.state, delivery.meta, ahead?.reads.reader(env.reads.redis));
      try {
        await handleOnce(handler, delivery.message, ctx, env.doneKey?.(delivery.meta));
        delivery.recorder = ctx;
        delivery.outcome = HANDLED;
        run?.decided(delivery);
      } catch (error) {
        failed.set(delivery, error);
      }
    }
    if (failed.size === 0) break;
    const failing = todo.filter((d) => failed.has(d));

    if (pace?.redisReady() === false) {
      for (const delivery of failing) delivery.attempts -= 1;
      await pace.waitForRedis();
      if (pace.stopping()) return later;
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
        pace?.onHeld(classified);
        retrying.push(delivery);
      } else if (delivery.attempts >= maxAttempts) {
        await applyPolicy(handler, env, delivery, { error: failed.get(delivery), attempts: delivery.attempts }, reject);
      } else {
        retrying.push(delivery);
      }
    }
    // Nothing to wait for Redis with: a rehearsal's taped refusal would hold it for ever.
    if (unanswered && pace === undefined) return later;
    todo = retrying;
    if (todo.length > 0 && pace !== undefined) {
      pace.onRetry(todo.length);
      const attempt = Math.max(1, ...todo.map((d) => d.attempts));
      await pace.sleep(backoffMs * 2 ** (attempt - 1));
      // Left pending for this or another consumer when stopping while Redis does not answer.
      if (unanswered && pace.stopping()) return later;
    }
  }
  return later;
}

export async function applyPolicy<Config, Metrics extends object>(
  handler: AnyHandler,
  env: DecisionEnv<Config, Metrics>,
  delivery: Delivery,
  failure: FailureInfo,
  reject: Reject,
): Promise<void> {
  const failurePolicy = handler.failure;
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
