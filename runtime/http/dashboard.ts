import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyPluginAsync } from 'fastify';
import type { AnyHandler } from '../handler.js';
import type { RuntimeServices } from '../runtime.js';
import { disabledMessage, isEnabled, parseDashboardAuth, requireAccess, type DashboardAuth } from './auth.js';

export const DASHBOARD_PATH = '/admin/queues';

/** The BullMQ queues the hosted handlers consume: schedule ticks and scheduled jobs. */
export function handlerQueueNames(handlers: readonly Pick<AnyHandler, 'trigger'>[]): string[] {
  const names = handlers.flatMap((h) => (h.trigger.kind === 'stream' ? [] : [h.trigger.queue]));
  return [...new Set(names)];
}

export interface DashboardSources {
  readonly handlers: readonly Pick<AnyHandler, 'trigger'>[];
  /** Opens (or returns) the process's Queue for a name. */
  queue(name: string): Queue;
  /** Every queue the process has opened so far, including those ctx.schedule opened. */
  openQueues(): readonly Queue[];
}

/**
 * bull-board at /admin/queues, behind requireAccess (which also covers its static assets and
 * API). Queues a handler schedules into (ctx.schedule) are opened lazily by the runtime, so the
 * board picks up newly opened ones on each request instead of hard-coding their names.
 */
export function dashboardRoutes(sources: DashboardSources, auth: DashboardAuth): FastifyPluginAsync {
  return async (app) => {
    await app.register(requireAccess, { auth, surface: 'dashboard' });
    if (!isEnabled(auth, 'dashboard')) {
      // Routes only so the guard answers with the message that says how to turn the board on.
      const off = async () => ({ error: 'disabled', message: disabledMessage('dashboard') });
      app.get(DASHBOARD_PATH, off);
      app.get(`${DASHBOARD_PATH}/*`, off);
      return;
    }

    const shown = new Set<string>();
    const adapters = handlerQueueNames(sources.handlers).map((name) => {
      shown.add(name);
      return new BullMQAdapter(sources.queue(name));
    });
    const serverAdapter = new FastifyAdapter();
    const board = createBullBoard({
      queues: adapters,
      serverAdapter,
      options: {
        uiConfig: {
          boardTitle: 'quantum-gates',
          miscLinks: [{ text: 'Gates status', url: '/' }],
          hideDocsLink: true,
        },
      },
    });
    serverAdapter.setBasePath(DASHBOARD_PATH);

    await app.register(async (scope) => {
      scope.addHook('onRequest', async () => {
        for (const queue of sources.openQueues()) {
          if (shown.has(queue.name)) continue;
          shown.add(queue.name);
          board.addQueue(new BullMQAdapter(queue));
        }
      });
      await scope.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
    });
  };
}

/** The plugin as runtime/http-plugins.ts lists it. */
export function dashboardPlugin(services: RuntimeServices): FastifyPluginAsync {
  const auth = parseDashboardAuth(services.env, services.config.HOST);
  if (!isEnabled(auth, 'dashboard')) services.logger.warn(disabledMessage('dashboard'));
  return dashboardRoutes(
    {
      handlers: services.handlers.map((h) => h.handler),
      queue: (name) => services.jobs.queue(name),
      openQueues: () => services.jobs.allQueues(),
    },
    auth,
  );
}
