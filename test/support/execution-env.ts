import type { RedisReader } from '../../runtime/contract/redis-reader.js';
import { directReads, type DecisionEnv, type Pace } from '../../runtime/engine/execute.js';

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
 * What a decision needs, for engine tests: `redis` (an empty object unless given: the tests that
 * leave it out never read), a clock fixed at `now`, no settings, no metrics, a silent logger.
 */
export function stubDecisionEnv(redis: RedisReader = {} as RedisReader, now = 1_000_000): DecisionEnv {
  return { reads: directReads(redis, () => now), config: {}, metrics: {}, logger: () => silentLogger };
}

/**
 * The runtime's pace with nothing to wait for (Redis up, no pause between tries), for the tests of
 * how the runtime holds a message Redis does not answer for: held, it is tried again at once until
 * Redis answers or `stopping` says so.
 */
export function immediatePace(stopping: () => boolean = () => false): Pace {
  return {
    redisReady: () => true,
    waitForRedis: async () => undefined,
    stopping,
    sleep: async () => undefined,
    onRetry: () => undefined,
    onHeld: () => undefined,
    onState: () => undefined,
  };
}
