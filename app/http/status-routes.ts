import { readFile } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import type { RuntimeServices } from '../../runtime/host/index.js';
import {
  collectStatus,
  defaultStatusOptions,
  describeSections,
  statusSourcesFrom,
  type StatusOptions,
  type StatusSources,
} from './status/status.js';
import { StatusCache } from './status/status-cache.js';
import { disabledMessage, isEnabled, parseDashboardAuth, requireAccess, type DashboardAuth } from './auth.js';

/** Plain files, no build step: served as they are, from the folder the application names. */
const ASSETS = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/status-page/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/status-page/kit.js': { file: 'kit.js', type: 'text/javascript; charset=utf-8' },
  '/status-page/chart.js': { file: 'chart.js', type: 'text/javascript; charset=utf-8' },
  '/status-page/views.js': { file: 'views.js', type: 'text/javascript; charset=utf-8' },
  '/status-page/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
} as const;

// The page needs nothing from elsewhere: no CDN (the hosts have no internet), no inline script.
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** GET /status (JSON for scripts), GET /status/sections (how to draw the gates' sections) and the page at / that polls them. */
export function statusRoutes(
  sources: StatusSources,
  auth: DashboardAuth,
  pageDir: URL,
  options: StatusOptions = defaultStatusOptions,
): FastifyPluginAsync {
  return async (app) => {
    await app.register(requireAccess, { auth, surface: 'status' });
    if (!isEnabled(auth, 'status')) {
      const off = async () => ({ error: 'disabled', message: disabledMessage('status') });
      app.get('/status', off);
      app.get('/status/sections', off);
      app.get('/', off);
      return;
    }

    for (const [path, asset] of Object.entries(ASSETS)) {
      // Read at start so a missing file fails the boot, not the first operator who looks.
      const body = await readFile(new URL(asset.file, pageDir), 'utf8');
      app.get(path, async (_request, reply) => reply.headers(PAGE_HEADERS).type(asset.type).send(body));
    }

    // PORT=0 binds a port chosen at listen: name the one this process actually answers on.
    const boundPort = () => {
      const address = app.server.address();
      return typeof address === 'object' && address !== null ? address.port : undefined;
    };
    const cache = new StatusCache(
      () => {
        const instance = sources.instance && { ...sources.instance, port: boundPort() ?? sources.instance.port };
        return collectStatus({ ...sources, instance }, options);
        // Its age on the clock the page's figures are read on (Redis's, as decisions read it).
      },
      options.cacheMs ?? 0,
      () => sources.now(),
    );
    // `Cache-Control: no-cache` asks for a read begun after the request (quantum-gates status sends
    // it, so a status right after `kill on` shows the switch on); others may get one up to STATUS_CACHE_MS old.
    app.get('/status', async (request, reply) =>
      reply
        .header('cache-control', 'no-store')
        .type('application/json; charset=utf-8')
        .send(await cache.get({ fresh: /\bno-cache\b/i.test(request.headers['cache-control'] ?? '') })),
    );
    // The gates' sections and the shapes they are drawn in: fixed while the process runs.
    const sections = describeSections(sources.sections);
    app.get('/status/sections', async (_request, reply) => reply.header('cache-control', 'no-store').send(sections));
  };
}

/**
 * The plugin as app/http-plugins.ts lists it. The page (`pageDir`: index.html, app.js,
 * style.css) belongs to the application: it lays out the gates' sections it knows by name, and
 * draws any other from the views GET /status/sections describes.
 */
export function statusPlugin(services: RuntimeServices, pageDir: URL): FastifyPluginAsync {
  const auth = parseDashboardAuth(services.env, services.config.HOST);
  if (!isEnabled(auth, 'status')) services.logger.warn(disabledMessage('status'));
  return statusRoutes(statusSourcesFrom(services), auth, pageDir, { ...defaultStatusOptions, cacheMs: services.config.STATUS_CACHE_MS });
}
