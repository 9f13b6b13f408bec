import underPressure from '@fastify/under-pressure';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { registerHealthRoutes, type GateHealth } from './health.js';

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

  app.get('/metrics', async (_request, reply) => {
    const [body, more] = await Promise.all([options.registry.metrics(), options.moreMetrics?.() ?? '']);
    const separator = body === '' || body.endsWith('\n') ? '' : '\n';
    return reply.type(options.registry.contentType).send(more === '' ? body : `${body}${separator}${more}`);
  });

  for (const plugin of options.plugins ?? []) await app.register(plugin);
  return app;
}
