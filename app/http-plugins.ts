import { parseTapeSettings } from './tape/store.js';
import { existsSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';
import type { RuntimeServices } from '../runtime/host/index.js';
import { parseDashboardAuth } from './http/auth.js';
import { dashboardPlugin } from './http/dashboard.js';
import { statusPlugin } from './http/status-routes.js';
import { boardAudit } from './board-audit.js';

/**
 * The status page's files: next to this module in the sources, dist/status-page/ in the build,
 * where this module is bundled into a file one folder below dist/ (scripts/bundle.mjs).
 */
function statusPageDir(): URL {
  const besideSource = new URL('./status-page/', import.meta.url);
  return existsSync(besideSource) ? besideSource : new URL('../status-page/', import.meta.url);
}

/** The HTTP routes beyond /metrics, /health, /ready and the gates' own that the process serves. */
export function httpPlugins(services: RuntimeServices): FastifyPluginAsync[] {
  return [statusPlugin(services, statusPageDir()), dashboardPlugin(services, boardAudit(services))];
}

/** Checks the plugins' own settings at start-up, with the runtime's (one line per bad variable). */
export function checkHttpEnv(env: Readonly<Record<string, string | undefined>>, host: string): void {
  parseDashboardAuth(env, host);
  parseTapeSettings(env);
}
