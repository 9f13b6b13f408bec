// The contract a gate is written against, the only runtime module handlers/ may import
// (.dependency-cruiser.cjs holds it); the rest of runtime/ is how it is kept. A gate needing
// more would be reaching past ctx: widen the contract here, deliberately, not import around it.
export {
  defineHandler,
  type AnyHandler,
  type BatchHints,
  type OwnKeys,
  type FailureInfo,
  type HandlerContext,
  type IdempotencyKey,
  type MessageMeta,
} from './handler.js';
export { defineKeyWatch, type KeyWatchDeclaration } from './key-watch.js';
export type { Logger } from './logger.js';
export type { CounterMetric, GaugeMetric, HistogramMetric, MetricFactory } from './metrics.js';
export { sendRead, type ReadCommand, type RedisReader } from './redis-reader.js';
export { isRedisStateRefusal, redisFailureCause } from './redis-refusals.js';
export type { EffectWriter, Fields, JobSummary } from './effects.js';
export { metricsAsHealth, type HealthDeclaration, type HealthProbe, type MetricsDeclaration } from './http.js';
export type { HttpAnswer, RouteContext, RouteDeclaration, RouteRequest } from './http.js';
export {
  defineStatusSection,
  type SectionHeadlineReason,
  type StatusReadContext,
  type AnyStatusSection,
  type StatusSectionDeclaration,
} from './status-section.js';
