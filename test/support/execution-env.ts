import type { RedisReader } from '../../runtime/contract/redis-reader.js';
import type { ExecutionEnv } from '../../runtime/engine/execute.js';

interface SilentLogger {
  debug(): void;
  info(): void;
  warn(): void;
  error(): void;
  child(): SilentLogger;
}

/** A logger that writes nothing, for engine tests that build their environments by hand. */
export const silentLogger: SilentLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

/**
 * An execution environment with Redis up, nothing stopping and no waits: a handler runs as soon
 * as it is asked to. Its redis is an empty object: the tests that use it never read.
 */
export function stubExecutionEnv(): ExecutionEnv<unknown, object> {
  return {
    redis: {} as RedisReader,
    config: {},
    metrics: {},
    now: () => 1_000_000,
    logger: () => silentLogger,
    redisReady: () => true,
    waitForRedis: async () => undefined,
    stopping: () => false,
    sleep: async () => undefined,
    onRetry: () => undefined,
  };
}
