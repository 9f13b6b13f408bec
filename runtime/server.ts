import underPressure from '@fastify/under-pressure';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { HttpAnswer } from './handler.js';
import { registerHealthRoutes, type GateHealth } from './health.js';

/** Prometheus asks for its text or OpenMetrics format by name; curl and scripts send no such Accept. */
export function wantsExposition(accept: string | undefined): boolean {
  return accept !== undefined && /text\/plain;\s*version=0\.0\.4|application\/openmetrics-text/i.test(accept);
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, boolean | string | number>>;
}

export interface ServerOptions {
  readonly registry: Registry;
  readonly readiness: () => Readiness;
  readonly maxEventLoopDelayMs: number;
  /** The hosted gates' declared /health answers (see runtime/health.ts). */
  readonly health?: readonly GateHealth[];
  /**
   * The hosted gate's original /metrics text (MetricsDeclaration), for a client that does not ask
   * for Prometheus's exposition format.
   */
  readonly originalMetrics?: () => Promise<HttpAnswer>;
  /** Prometheus text appended to /metrics after the registry's (BullMQ's queue metrics). */
  readonly moreMetrics?: () => Promise<string>;
  /** Further routes (dashboard, status, budget API), each a Fastify plugin. */
  readonly plugins?: readonly FastifyPluginAsync[];
}

/** Builds the HTTP surface without listening, so tests can use inject(). */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs,
    retryAfter: 5,
    message: 'quantum-gates is under pressure',
  });

  registerHealthRoutes(app, options.health ?? []);

  app.get('/ready', async (_request, reply) => {
    const readiness = options.readiness();
    const pressured = app.isUnderPressure();
    const ready = readiness.ready && !pressured;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', underPressure: pressured, ...readiness.checks });
  });

  app.get('/metrics', async (request, reply) => {
    const original = options.originalMetrics;
    if (original && !wantsExposition(request.headers.accept)) {
      const answer = await original();
      return reply.code(answer.status).header('content-type', answer.contentType).send(Buffer.from(answer.body));
    }
    const [body, more] = await Promise.all([options.registry.metrics(), options.moreMetrics?.() ?? '']);
    const separator = body === '' || body.endsWith('\n') ? '' : '\n';
    return reply.type(options.registry.contentType).send(more === '' ? body : `${body}${separator}${more}`);
  });

  for (const plugin of options.plugins ?? []) await app.register(plugin);
  return app;
}
