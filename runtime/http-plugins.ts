import type { FastifyPluginAsync } from 'fastify';
import type { RuntimeServices } from './runtime.js';
import { dashboardPlugin } from './http/dashboard.js';
import { statusPlugin } from './http/status-routes.js';
import { budgetApi } from './http/budget-api.js';

/** The HTTP routes beyond /metrics, /health and /ready that the process serves. */
export function httpPlugins(services: RuntimeServices): FastifyPluginAsync[] {
  return [
    statusPlugin(services),
    dashboardPlugin(services),
    budgetApi(services),
  ];
}
