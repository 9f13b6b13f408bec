import type { HealthDeclaration, MetricsDeclaration } from './health.js';
import type { RouteDeclaration } from './routes.js';
import type { AnyStatusSection } from './status-section.js';

/** What a gate serves over HTTP, beside the runtime's /metrics, /ready and status page. */
export interface HttpDeclaration<Config, Metrics> {
  /** The original's /health answer; without it, the runtime's liveness body. */
  readonly health?: HealthDeclaration<Config>;
  /** The original's own /metrics text; without it, the runtime's exposition only. */
  readonly metrics?: MetricsDeclaration<Config>;
  readonly routes?: readonly RouteDeclaration<Config, Metrics>[];
  /** Its sections of the status page, GET /status and `quantum-gates status`. */
  readonly status?: readonly AnyStatusSection<Config>[];
}
