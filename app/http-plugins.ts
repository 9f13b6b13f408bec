import type { FastifyPluginAsync } from 'fastify';
import type { RuntimeServices } from '../runtime/runtime.js';
import { parseDashboardAuth } from '../runtime/http/auth.js';
import { dashboardPlugin } from '../runtime/http/dashboard.js';
import { statusPlugin } from '../runtime/http/status-routes.js';
import { boardAudit } from './board-audit.js';

/** The HTTP routes beyond /metrics, /health, /ready and the gates' own that the process serves. */
export function httpPlugins(services: RuntimeServices): FastifyPluginAsync[] {
  return [statusPlugin(services), dashboardPlugin(services, boardAudit(services))];
}

/** Checks the plugins' own settings at start-up, with the runtime's (one line per bad variable). */
export function checkHttpEnv(env: Readonly<Record<string, string | undefined>>, host: string): void {
  parseDashboardAuth(env, host);
}
