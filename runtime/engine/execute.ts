import { EffectRecorder } from './effects.js';
import type { AnyHandler, FailureInfo, MessageMeta } from '../contract/handler.js';
import { guardFallback, handleOnce, startDuplicateCheck } from './idempotency.js';
import { MessageContext, type ContextDeps } from './message-context.js';

/** A message that passed validation, with where it came from. */
export interface ValidMessage {
  /** attempt is 1 here; later attempts get a copy with their number. */
  readonly meta: MessageMeta;
  readonly message: unknown;
}

export type DeadLetterReason = 'invalid_input' | 'handler_failed' | 'fallback_failed' | 'too_many_deliveries' | 'commit_failed';

export type Outcome =
  /** Commit the recorded effects with the ack. `fallback` marks a failure policy's output. */
  | { readonly kind: 'commit'; readonly recorder: EffectRecorder; readonly via: 'handled' | 'fallback'; readonly attempts: number }
  | { readonly kind: 'dead-letter'; readonly reason: DeadLetterReason; readonly detail: string; readonly attempts: number }
  /** Shutting down before the message could finish: leave it pending for another consumer. */
  | { readonly kind: 'leave-pending' };

export interface ExecutionEnv<Config, Metrics> extends ContextDeps<Config, Metrics> {
  /** False while the Redis connection is down: failures then are the system's, not the message's. */
  readonly redisReady: () => boolean;
  readonly waitForRedis: () => Promise<void>;
  readonly stopping: () => boolean;
  readonly sleep: (ms: number) => Promise<void>;
  readonly onRetry: (count: number) => void;
  /** Jobs only: where the runtime records the job as done (see IdempotencyDeclaration). */
  readonly doneKey?: (meta: MessageMeta) => string;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Runs `handle` for each message, concurrently (effects are deferred, so order of execution
 * does not matter; commit order follows the batch). A throwing message is retried with
 * exponential backoff, with batch state reloaded; after maxAttempts its failure policy decides.
 * While Redis is down, failures are not charged to the messages.
 */
export async function executeBatch<Config, Metrics extends object>(
  handler: AnyHandler,
  env: ExecutionEnv<Config, Metrics>,
  messages: readonly ValidMessage[],
  /** Batch state already being loaded for these messages; retries load it afresh. */
  preloadedState?: Promise<unknown>,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = messages.map(() => ({ kind: 'leave-pending' }));
  const attempts = messages.map(() => 0);
  const lastError: unknown[] = messages.map(() => undefined);
  const { maxAttempts, backoffMs } = handler.failure;
  let todo = messages.map((_, index) => index);

  while (todo.length > 0) {
    if (env.stopping() && todo.some((i) => attempts[i]! > 0)) return outcomes;
    // Duplicate checks read Redis while the batch state loads, not after it.
    const checks = todo.map((index) => {
      const { message, meta } = messages[index]!;
      return startDuplicateCheck(handler, message, meta, env.redis, env.doneKey?.(meta));
    });
    let state: unknown;
    let stateError: unknown;
    try {
      if (preloadedState) state = await preloadedState;
      else state = handler.batch?.loadState ? await handler.batch.loadState(env.redis, env.config, env.now()) : undefined;
    } catch (error) {
      stateError = error;
    }
    preloadedState = undefined;

    const failed: number[] = [];
    const waiting: Promise<void>[] = [];
    for (const [position, index] of todo.entries()) {
      attempts[index]! += 1;
      if (stateError !== undefined) {
        failed.push(index);
        lastError[index] = stateError;
        continue;
      }
      const item = messages[index]!;
      const recorder = new EffectRecorder();
      const attempt = attempts[index]!;
      const meta = attempt === 1 ? item.meta : { ...item.meta, attempt };
      const ctx = new MessageContext(env, recorder, state, meta);
      // Synchronous handlers (the heat gate) finish here without a promise per message; async
      // ones (the governor's reads, a duplicate check) run concurrently and are awaited together.
      try {
        const result = handleOnce(handler, item.message, ctx, checks[position]!);
        if (result instanceof Promise) {
          const succeeded = () => {
            outcomes[index] = { kind: 'commit', recorder, via: 'handled', attempts: attempt };
          };
          const threw = (error: unknown) => {
            failed.push(index);
            lastError[index] = error;
          };
          waiting.push(result.then(succeeded, threw));
        } else {
          outcomes[index] = { kind: 'commit', recorder, via: 'handled', attempts: attempt };
        }
      } catch (error) {
        failed.push(index);
        lastError[index] = error;
      }
    }
    if (waiting.length > 0) await Promise.all(waiting);
    if (failed.length === 0) break;

    if (!env.redisReady()) {
      for (const index of failed) attempts[index]! -= 1;
      await env.waitForRedis();
      if (env.stopping()) return outcomes;
      todo = failed.sort((a, b) => a - b);
      continue;
    }

    todo = [];
    for (const index of failed.sort((a, b) => a - b)) {
      if (attempts[index]! >= maxAttempts) {
        outcomes[index] = await applyPolicy(handler, env, messages[index]!, { error: lastError[index], attempts: attempts[index]! });
      } else {
        todo.push(index);
      }
    }
    if (todo.length > 0) {
      env.onRetry(todo.length);
      const attempt = Math.max(...todo.map((i) => attempts[i]!));
      await env.sleep(backoffMs * 2 ** (attempt - 1));
    }
  }
  return outcomes;
}

async function applyPolicy<Config, Metrics extends object>(
  handler: AnyHandler,
  env: ExecutionEnv<Config, Metrics>,
  item: ValidMessage,
  failure: FailureInfo,
): Promise<Outcome> {
  const failurePolicy = handler.failure;
  if (failurePolicy.policy === 'dead-letter') {
    return { kind: 'dead-letter', reason: 'handler_failed', detail: describeError(failure.error), attempts: failure.attempts };
  }
  const recorder = new EffectRecorder();
  const ctx = new MessageContext(env, recorder, undefined, { ...item.meta, attempt: failure.attempts });
  try {
    guardFallback(handler, item.message, ctx, env.doneKey?.(item.meta));
    await failurePolicy.fallback(item.message, failure, ctx);
    ctx.log.warn(
      { err: describeError(failure.error), attempts: failure.attempts, policy: failurePolicy.policy },
      'handler failed; applied failure policy',
    );
    return { kind: 'commit', recorder, via: 'fallback', attempts: failure.attempts };
  } catch (fallbackError) {
    return {
      kind: 'dead-letter',
      reason: 'fallback_failed',
      detail: `${describeError(failure.error)}; fallback: ${describeError(fallbackError)}`,
      attempts: failure.attempts,
    };
  }
}
