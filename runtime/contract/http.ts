import type { HealthDeclaration, MetricsDeclaration } from './health.js';
import type { RouteDeclaration } from './routes.js';
import type { AnyStatusSection } from './status-section.js';

/** What a gate serves over HTTP, beside the runtime's /metrics, /ready and status page. */
export interface HttpDeclaration<Config, Metrics> {
  readonly health?: HealthDeclaration<Config>; // none: the runtime's liveness body
  readonly metrics?: MetricsDeclaration<Config>; // none: the runtime's exposition only
  readonly routes?: readonly RouteDeclaration<Config, Metrics>[];
  readonly status?: readonly AnyStatusSection<Config>[];
}
