// The contract a gate is written against, the only runtime module handlers/ may import (ESLint and
// test/unit/boundaries.test.ts hold it); the rest of runtime/ is how it is kept. A gate needing
// more would be reaching past ctx: widen the contract here, deliberately, not import around it.
export {
  defineHandler,
  type AnyHandler,
  type BatchHints,
  type FailureInfo,
  type FailurePolicy,
  type HandlerContext,
  type HandlerDeclaration,
  type IdempotencyDeclaration,
  type IdempotencyKey,
  type MessageMeta,
  type Trigger,
} from './handler.js';
export type { Logger } from './logger.js';
export type { CounterMetric, GaugeMetric, HistogramMetric, MetricFactory } from './metrics.js';
export type { RedisReader } from './redis-reader.js';
export type { EffectWriter, Fields, JobSummary } from './effects.js';
export type { HealthAnswer, HttpAnswer } from './answer.js';
export type { HttpDeclaration } from './http.js';
export { metricsAsHealth, type HealthDeclaration, type HealthProbe, type MetricsDeclaration } from './health.js';
export type { HttpMethod, RouteContext, RouteDeclaration, RouteRedis, RouteRequest } from './routes.js';
export {
  defineStatusSection,
  type SectionHeadlineReason,
  type StatusReadContext,
  type AnyStatusSection,
  type StatusSectionDeclaration,
} from './status-section.js';
export { BatchTurns } from './batch-turns.js';
