/**
 * The only runtime module `app/` and `cli/` may import (.dependency-cruiser.cjs holds it); an
 * application need for more widens this list, deliberately.
 */
export { createRuntime, type RuntimeServices } from './runtime.js';
export type { Logger as RootLogger } from 'pino'; // the process's logger; the application makes it (app/logging.ts)
export { systemClock, type Clock } from '../engine/clock.js';
export type { ReadinessCauses } from './health.js';
export { loadConfiguration, parseRuntimeConfig, selectHandlers, type RuntimeConfig } from './config.js';
export {
  createRedisClient,
  describeRedis,
  isReady,
  redactSecrets,
  REDIS_PROTOCOL,
  TimeoutError,
  withTimeout,
  type RedisClient,
} from './redis.js';
export { readBacklog, type GroupBacklog } from './backlog.js';
export { evictionPolicy, type RedisFault } from './redis-health.js';
export { cacheOffWith, keyspaceEvents, keyspaceEventsOff, missingKeyspaceFlags } from './key-watch.js';
// The gate contract's names the application reads declarations with.
export type { AnyHandler, AnyStatusSection, RedisReader, SectionHeadlineReason, StatusSectionDeclaration } from '../contract/index.js';
export type { ScheduleTrigger, StreamTrigger } from '../contract/handler.js';
// The engine's record formats the operator CLI reads: dead letters.
export { deadLetterIndexKey, deadLetterIndexMember, type DeadLetterReason } from '../engine/dead-letter.js';
// The tape (app/tape): a decision's ctx, recorded (its rehearsal's values come through ./replay.ts).
export type { DecisionTape, Reads, Taped } from '../engine/execute.js';
export type { Delivery } from '../engine/delivery.js';
