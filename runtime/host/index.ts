/**
 * The runtime as the application sees it, and the only runtime module `app/` and `cli/` may
 * import (ESLint and test/unit/boundaries.test.ts hold it): start a runtime over the chosen
 * gates, its settings and connections, what the status document reads of it (readiness causes,
 * backlog), and the few contract and engine names the operator CLI reads records with. The rest of runtime/ is how these are kept; an
 * application need for more widens this list, deliberately.
 */
export {
  createRuntime,
  loadConfiguration,
  type HostedHandler,
  type ReadinessCauses,
  type Runtime,
  type RuntimeOptions,
  type RuntimeServices,
} from './runtime.js';
export { parseRuntimeConfig, redisIsConfigured, type RuntimeConfig } from './config.js';
// createRedisClient: the application's pre-flight check and the CLI open a client of their own
// on the runtime's Redis settings (app/redis-preflight.ts).
export { createRedisClient, describeRedis, redactSecrets, type RedisClient } from './redis.js';
export { redisAddress, redisIdentity } from './redis-identity.js';
export { buildInfo, packageRoot, releaseName, type BuildInfo } from './build-info.js';
export { didYouMean } from './did-you-mean.js';
export { findUnknownSettings, settingsRead } from './unknown-settings.js';
// What the application's status document reads of a running process: its Redis, the backlog of
// the gates' groups, why it is not ready (RuntimeServices.readinessCauses), within a time limit
// (withTimeout, which the pre-flight check uses too).
export { isReady } from './redis.js';
export { readBacklog, type GroupBacklog } from './backlog.js';
export type { RedisFault } from './redis-health.js';
export { TimeoutError, withTimeout } from './timeout.js';
// The gate contract's names the application reads declarations and settings with.
export { ConfigError, envBool, parseEnv } from '../../schemas/env.js';
export type {
  AnyHandler,
  AnyStatusSection,
  HandlerDeclaration,
  RedisReader,
  SectionHeadlineReason,
  StatusSectionDeclaration,
} from '../contract/index.js';
export type { AnySectionView, BadgeCase, SectionView, ValueFormat, ViewField } from '../../schemas/status/views.js';
export type { StreamTrigger } from '../contract/handler.js';
// The engine's record formats the operator CLI reads: dead letters.
export { deadLetterIndexKey, deadLetterIndexMember } from '../engine/dead-letter.js';
