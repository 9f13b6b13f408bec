import type { FastifyPluginAsync } from 'fastify';
import type { HttpAnswer } from '../contract/answer.js';
import type { RouteRequest } from '../contract/routes.js';
import type { AnyHandler } from '../contract/handler.js';
import type { RootLogger } from '../engine/logger.js';
import type { RedisClient } from '../engine/connection.js';
import { send } from './health.js';

/** What serving the gates' routes takes of the runtime's services (RuntimeServices has them). */
interface GateRouteServices {
  readonly handlers: readonly { readonly handler: AnyHandler; readonly config: unknown; readonly metrics: object }[];
  readonly redis: RedisClient;
  readonly logger: RootLogger;
}

const internalError: HttpAnswer = { status: 500, contentType: 'text/plain; charset=utf-8', body: 'Internal Server Error' };

/**
 * The routes the hosted gates declare (`http.routes`), served as declared: the runtime parses the
 * request and writes the answer, the gate decides it. A gate not hosted here serves nothing.
 */
export function gateRoutesPlugin(services: GateRouteServices): FastifyPluginAsync {
  return async (app) => {
    for (const hosted of services.handlers) {
      const routes = hosted.handler.http?.routes ?? [];
      if (routes.length === 0) continue;
      const log = services.logger.child({ component: `${hosted.handler.name}-http` });
      const ctx = { config: hosted.config, metrics: hosted.metrics, redis: services.redis, log, now: () => Date.now() };
      for (const route of routes) {
        app.route({
          method: [...route.methods],
          url: route.path,
          handler: async (request, reply) => {
            const seen: RouteRequest = {
              method: request.method,
              params: (request.params ?? {}) as Record<string, string>,
              query: (request.query ?? {}) as Record<string, string | string[] | undefined>,
              headers: request.headers,
            };
            let answer: HttpAnswer;
            try {
              answer = await route.answer(seen, ctx);
            } catch (error) {
              log.error({ err: error instanceof Error ? error.message : String(error), path: route.path }, 'route failed');
              answer = internalError;
            }
            return send(reply, answer);
          },
        });
      }
    }
  };
}
