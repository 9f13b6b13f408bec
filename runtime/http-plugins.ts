import type { FastifyPluginAsync } from 'fastify';
import type { RuntimeServices } from './runtime.js';
import { parseDashboardAuth } from './http/auth.js';
import { dashboardPlugin } from './http/dashboard.js';
import { statusPlugin } from './http/status-routes.js';
import { budgetApi } from './http/budget-api.js';

/** The HTTP routes beyond /metrics, /health and /ready that the process serves. */
export function httpPlugins(services: RuntimeServices): FastifyPluginAsync[] {
  return [statusPlugin(services), dashboardPlugin(services), budgetApi(services)];
}

/** Checks the plugins' own settings at start-up, with the runtime's (one line per bad variable). */
export function checkHttpEnv(env: Readonly<Record<string, string | undefined>>, host: string): void {
  parseDashboardAuth(env, host);
}
