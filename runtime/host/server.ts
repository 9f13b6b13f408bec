import type { Socket } from 'node:net';
import underPressure from '@fastify/under-pressure';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { HttpAnswer } from '../contract/answer.js';
import { ConfigError } from '../../schemas/env.js';
import { registerHealthRoutes, send, type GateHealth, type Readiness } from './health.js';

/** Prometheus asks for its text or OpenMetrics format by name; curl and scripts send no such Accept. */
function wantsExposition(accept: string | undefined): boolean {
  return accept !== undefined && /text\/plain;\s*version=0\.0\.4|application\/openmetrics-text/i.test(accept);
}

export interface ServerOptions {
  readonly registry: Registry;
  readonly readiness: () => Readiness;
  readonly maxEventLoopDelayMs: number;
  /** The hosted gates' declared /health answers (see runtime/host/health.ts). */
  readonly health: readonly GateHealth[];
  /**
   * The hosted gate's original /metrics text (MetricsDeclaration), for a client that does not ask
   * for Prometheus's exposition format.
   */
  readonly originalMetrics?: () => Promise<HttpAnswer>;
  /** Prometheus text appended to /metrics after the registry's (BullMQ's queue metrics). */
  readonly moreMetrics: () => Promise<string>;
  /** Further routes (dashboard, status, budget API), each a Fastify plugin. */
  readonly plugins: readonly FastifyPluginAsync[];
  /** A connection with no traffic either way for this long is closed (HTTP_IDLE_TIMEOUT_MS). */
  readonly idleTimeoutMs: number;
  /** Operator requests served at once; more are answered 503 at once (HTTP_MAX_IN_FLIGHT). */
  readonly maxInFlight: number;
}

/** Liveness and readiness answer whatever else is going on: a probe that times out restarts a healthy process. */
const isProbe = (url: string) => url === '/ready' || url === '/health' || url.startsWith('/health/');

/** Builds the HTTP surface without listening, so tests can use inject(). */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const idleMs = options.idleTimeoutMs;
  // A client that stops reading (or never finishes its request) holds a socket and its queued
  // responses: cut it off after idleMs without traffic, rather than let such clients pile up.
  const app = Fastify({ logger: false, requestTimeout: idleMs, keepAliveTimeout: Math.min(5000, idleMs) });
  limitInFlight(app, options.maxInFlight);
  // Node leaves a timed-out socket open while a response on it is still unsent, which is exactly
  // the client that stopped reading: destroy it.
  app.server.on('connection', (socket: Socket) => socket.setTimeout(idleMs, () => socket.destroy()));
  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs,
    retryAfter: 5,
    message: 'quantum-gates is under pressure',
  });

  registerHealthRoutes(app, options.health, options.readiness);

  app.get('/metrics', async (request, reply) => {
    const original = options.originalMetrics;
    if (original && !wantsExposition(request.headers.accept)) return send(reply, await original());
    const [body, more] = await Promise.all([options.registry.metrics(), options.moreMetrics()]);
    const separator = body === '' || body.endsWith('\n') ? '' : '\n';
    return reply.type(options.registry.contentType).send(more === '' ? body : `${body}${separator}${more}`);
  });

  for (const plugin of options.plugins) await app.register(plugin);
  return app;
}

/**
 * At most `max` operator requests in hand at once; the next is told to come back (503,
 * Retry-After) before any work is done for it. Probes are never counted or refused.
 */
function limitInFlight(app: FastifyInstance, max: number): void {
  let inFlight = 0;
  const counted = new WeakSet<object>();
  const release = (request: object) => {
    if (counted.delete(request)) inFlight--;
  };
  app.addHook('onRequest', async (request, reply) => {
    if (isProbe(request.url.split('?', 1)[0]!)) return;
    if (inFlight >= max) {
      await reply
        .code(503)
        .header('retry-after', '1')
        .send({ error: 'busy', message: `more than ${max} requests in hand (HTTP_MAX_IN_FLIGHT)` });
      return;
    }
    inFlight++;
    counted.add(request);
  });
  app.addHook('onResponse', async (request) => release(request));
  app.addHook('onRequestAbort', async (request) => release(request));
}

/**
 * Binds a listener, turning the usual refusals into a start-up problem that names the setting to
 * change rather than a stack printed after every gate has started.
 */
export async function bindNamingSetting<T>(bind: () => Promise<T>, setting: string, host: string, port?: number): Promise<T> {
  try {
    return await bind();
  } catch (error) {
    const where = port === undefined ? host : `${host}:${port}`;
    const why: Record<string, string> = {
      EADDRINUSE: `${where} is already in use by another process: choose a free port or stop that process`,
      EACCES: `${where} needs privileges this process lacks: choose a port above 1023`,
      EADDRNOTAVAIL: `${host} is not an address of this machine (HOST)`,
    };
    const reason = why[(error as NodeJS.ErrnoException).code ?? ''];
    if (reason === undefined) throw error;
    throw new ConfigError([`${setting}: ${reason}`]);
  }
}
