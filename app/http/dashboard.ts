import type { Queue } from 'bullmq';
import { hostname } from 'node:os';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AnyHandler, RuntimeServices } from '../../runtime/host/index.js';
import { credentialsOf, disabledMessage, isEnabled, parseDashboardAuth, requireAccess, roleOf, type DashboardAuth } from './auth.js';
import { loadBullBoard, type BullBoardModules } from './bull-board.js';

export const DASHBOARD_PATH = '/admin/queues';

/** The BullMQ queues the hosted handlers consume: schedule ticks and scheduled jobs. */
export function handlerQueueNames(handlers: readonly Pick<AnyHandler, 'trigger'>[]): string[] {
  const names = handlers.flatMap((h) => (h.trigger.kind === 'stream' ? [] : [h.trigger.queue]));
  return [...new Set(names)];
}

/** What each queue is for, from its handler's own description: the board shows it under the name. */
export function queueDescriptions(handlers: readonly Pick<AnyHandler, 'trigger' | 'description'>[]): Map<string, string> {
  const descriptions = new Map<string, string>();
  for (const h of handlers)
    if (h.trigger.kind !== 'stream' && !descriptions.has(h.trigger.queue)) descriptions.set(h.trigger.queue, h.description);
  return descriptions;
}

export interface DashboardSources {
  readonly handlers: readonly Pick<AnyHandler, 'trigger' | 'description'>[];
  /** Opens (or returns) the process's Queue for a name. */
  queue(name: string): Queue;
  /** Every queue the process has opened so far, including those ctx.schedule opened. */
  openQueues(): readonly Queue[];
  /** Records a write made through the board (retry, clean, remove a job or scheduler, pause...). */
  audit?(action: BoardAction): Promise<void>;
  /** This host's clock: when a board write was made. */
  now(): number;
}

const READ_ONLY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** bull-board's page links a stylesheet on an outside font host; the board reads fine in system fonts. */
const OUTSIDE_FONTS = /<link[^>]*\bhttps:\/\/fonts\.(?:googleapis|gstatic)\.com[^>]*>\s*/g;

const RETRY_ALL = new RegExp(`^${DASHBOARD_PATH}/api/queues/([^/]+)/retry/([^/?]+)`);
const RETRY_JOB = new RegExp(`^${DASHBOARD_PATH}/api/queues/([^/]+)/([^/]+)/retry(?:[?]|$)`);

/**
 * Why a board request must be refused, or undefined. A completed job has had its effect (a
 * cooldown_expired event, a tick's budgets): running it again would repeat it, so the board
 * offers no retry of completed jobs and the API refuses one.
 */
export async function refusedRetry(
  method: string,
  url: string,
  queueOf: (name: string) => Pick<Queue, 'getJobState'> | undefined,
): Promise<string | undefined> {
  if (method !== 'PUT') return undefined;
  const all = RETRY_ALL.exec(url);
  if (all) return all[2] === 'completed' ? 'completed jobs are not retried: their effect already happened' : undefined;
  const one = RETRY_JOB.exec(url);
  if (!one) return undefined;
  const queue = queueOf(decodeURIComponent(one[1]!));
  const state = queue ? await queue.getJobState(decodeURIComponent(one[2]!)) : undefined;
  return state === 'completed' ? 'a completed job is not retried: its effect already happened' : undefined;
}

/** The board's HTML without requests to outside hosts: an operator's browser asks only this server. */
export function withoutOutsideFonts(html: string): string {
  return html.replace(OUTSIDE_FONTS, '');
}

/** Who made a request the guard let through: the basic-auth user, "token", or "loopback". */
function actorOf(request: FastifyRequest): string {
  const presented = credentialsOf(request.headers.authorization);
  if (presented.kind === 'basic') return presented.user;
  if (presented.kind === 'bearer') return 'token';
  return `loopback ${request.ip}`;
}

/**
 * A write made through the board: the actor, host and time (ts, milliseconds), what was done and
 * the answer. Where it is recorded is the application's choice (app/board-audit.ts).
 */
export interface BoardAction {
  readonly actor: string;
  readonly host: string;
  readonly ts: string;
  readonly request: string;
  readonly status: string;
}

export function boardAction(request: FastifyRequest, status: number, now: number): BoardAction {
  return {
    actor: actorOf(request),
    host: hostname(),
    ts: String(now),
    request: `${request.method} ${request.url.split('?')[0]}`,
    status: String(status),
  };
}

/** The route constraint that sends a viewer's requests to the read-only board. */
const ROLE_CONSTRAINT = 'dashboardRole';
type BoardRole = 'viewer' | 'other';

/**
 * bull-board at /admin/queues, behind requireAccess (which also covers its static assets and
 * API). Queues a handler schedules into (ctx.schedule) are opened lazily by the runtime, so the
 * board picks up newly opened ones on each request instead of hard-coding their names.
 *
 * With a viewer credential configured, a second board is mounted at the same path with every
 * queue in bull-board's readOnlyMode, and a route constraint sends the viewer's requests to it:
 * the viewer sees the same URL without retry, clean or remove buttons, and the guard refuses
 * (403) any write the viewer sends anyway.
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
    const bullBoard = await loadBullBoard();
    if (auth.viewer === undefined) {
      await app.register(boardScope(bullBoard, sources, { readOnly: false }));
      return;
    }
    if (!app.hasConstraintStrategy(ROLE_CONSTRAINT)) {
      app.addConstraintStrategy({
        name: ROLE_CONSTRAINT,
        storage() {
          const handlers = new Map<unknown, never>();
          return {
            get: (role: unknown) => handlers.get(role) ?? null,
            set: (role: unknown, handler: never) => void handlers.set(role, handler),
          };
        },
        // Only the board's own paths pay for the comparison.
        deriveConstraint: (request): BoardRole =>
          (request.url ?? '').startsWith(DASHBOARD_PATH) && roleOf(auth, headerValue(request.headers.authorization)) === 'viewer'
            ? 'viewer'
            : 'other',
      });
    }
    await app.register(boardScope(bullBoard, sources, { readOnly: false }));
    await app.register(async (viewerScope) => {
      viewerScope.addHook('onRoute', (route) => {
        route.constraints = { ...route.constraints, [ROLE_CONSTRAINT]: 'viewer' satisfies BoardRole };
      });
      await viewerScope.register(boardScope(bullBoard, sources, { readOnly: true }));
    });
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** One bull-board instance with its hooks, every queue writable or every queue read-only. */
function boardScope(
  { createBullBoard, BullMQAdapter, FastifyAdapter }: BullBoardModules,
  sources: DashboardSources,
  { readOnly }: { readOnly: boolean },
): FastifyPluginAsync {
  return async (scope) => {
    const shown = new Set<string>();
    const descriptions = queueDescriptions(sources.handlers);
    const adapterFor = (queue: Queue) => {
      shown.add(queue.name);
      const description = descriptions.get(queue.name);
      return new BullMQAdapter(queue, { ...adapterOptions(readOnly), ...(description === undefined ? {} : { description }) });
    };
    const adapters = handlerQueueNames(sources.handlers).map((name) => adapterFor(sources.queue(name)));
    const serverAdapter = new FastifyAdapter();
    const board = createBullBoard({
      queues: adapters,
      serverAdapter,
      options: {
        uiConfig: {
          boardTitle: readOnly ? 'quantum-gates (read-only)' : 'quantum-gates',
          miscLinks: [{ text: 'Gates status', url: '/' }],
          hideDocsLink: true,
        },
      },
    });
    serverAdapter.setBasePath(DASHBOARD_PATH);

    scope.addHook('onRequest', async () => {
      for (const queue of sources.openQueues()) if (!shown.has(queue.name)) board.addQueue(adapterFor(queue));
    });
    scope.addHook('preHandler', async (request, reply) => {
      const refusal = await refusedRetry(request.method, request.url, (name) => sources.openQueues().find((q) => q.name === name));
      if (refusal !== undefined) return reply.code(409).send({ error: 'refused', message: refusal });
    });
    scope.addHook('onSend', async (_request, reply, payload) => {
      const type = String(reply.getHeader('content-type') ?? '');
      return typeof payload === 'string' && type.startsWith('text/html') ? withoutOutsideFonts(payload) : payload;
    });
    scope.addHook('onResponse', async (request, reply) => {
      if (READ_ONLY_METHODS.has(request.method) || reply.statusCode === 401 || reply.statusCode === 403) return;
      await sources.audit?.(boardAction(request, reply.statusCode, sources.now()));
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
  };
}

/**
 * bull-board's own switches: the viewer's board is in readOnlyMode (no retry, clean, remove,
 * pause, add; bull-board answers 405 itself behind our 403). Neither board offers a retry of a
 * completed job: its effect already happened (refusedRetry answers 409 to one sent anyway).
 */
export function adapterOptions(readOnly: boolean): { readOnlyMode: boolean; allowCompletedRetries: false } {
  return { readOnlyMode: readOnly, allowCompletedRetries: false };
}

/** The plugin as app/http-plugins.ts lists it, with how the board's writes are recorded. */
export function dashboardPlugin(services: RuntimeServices, audit?: (action: BoardAction) => Promise<void>): FastifyPluginAsync {
  const auth = parseDashboardAuth(services.env, services.config.HOST);
  if (!isEnabled(auth, 'dashboard')) services.logger.warn(disabledMessage('dashboard'));
  return dashboardRoutes(
    {
      handlers: services.handlers.map((h) => h.handler),
      queue: (name) => services.jobs.queue(name),
      openQueues: () => services.jobs.allQueues(),
      audit,
      now: () => services.clock.now(),
    },
    auth,
  );
}
