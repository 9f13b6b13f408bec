/**
 * The runtime as the application sees it, and the only runtime module `app/` and `cli/` may
 * import (ESLint and test/unit/boundaries.test.ts hold it): start a runtime over the chosen
 * gates, its settings and connections, the status it reports, and the few contract and engine
 * names the operator CLI reads records with. The rest of runtime/ is how these are kept; an
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
export { describeRedis, type RedisClient } from './redis.js';
export { redisAddress, redisIdentity } from './redis-identity.js';
export { connectVerified, preflightRedis, redactSecrets, RedisWiringError } from './redis-preflight.js';
export { buildInfo, packageRoot, releaseName, type BuildInfo } from './build-info.js';
export { didYouMean } from './did-you-mean.js';
export { findUnknownSettings, settingsRead } from './unknown-settings.js';
export {
  collectStatus,
  defaultStatusOptions,
  describeSections,
  statusSourcesFrom,
  type GatesStatus,
  type RuntimeStatus,
  type SectionDescription,
  type StatusInstance,
  type StatusOptions,
  type StatusSources,
} from './http/status.js';
export { StatusCache } from './http/status-cache.js';
export { headlineState, type Headline, type HeadlineReason } from './http/status-headline.js';
export { RUNTIME_STATUS_KEYS } from './http/status-keys.js';
export { formatUtc } from './http/status-time.js';
// The gate contract's names the application reads declarations and settings with.
export { ConfigError, envBool, parseEnv } from '../../schemas/env.js';
export type { AnyHandler, HandlerDeclaration, RedisReader, StatusSectionDeclaration } from '../contract/index.js';
export type { AnySectionView, BadgeCase, SectionView, ValueFormat, ViewField } from '../../schemas/status/views.js';
export type { StreamTrigger } from '../contract/handler.js';
// The engine's record formats the operator CLI reads: dead letters and their validation issues.
export { deadLetterIndexKey, deadLetterIndexMember } from '../engine/dead-letter.js';
export { describeIssues, readableDeadLetterError } from '../engine/validation-issues.js';
