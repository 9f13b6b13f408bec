import type { Socket } from 'node:net';
import underPressure from '@fastify/under-pressure';
import type { Queue } from 'bullmq';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { HttpAnswer, RouteRequest } from '../contract/http.js';
import type { Logger as RootLogger } from 'pino';
import { ConfigError } from '../../schemas/env.js';
import type { RuntimeConfig } from './config.js';
import type { HostedHandler } from '../engine/refresh.js';
import { withTimeout, type RedisClient } from './redis.js';
import { registerHealthRoutes, send, type GateProbes, type Readiness } from './health.js';
import type { Clock } from '../engine/clock.js';

/** Prometheus asks for its text or OpenMetrics format by name; curl and scripts send no such Accept. */
const exposition = /text\/plain;\s*version=0\.0\.4|application\/openmetrics-text/i;

interface ServerOptions extends GateProbes {
  readonly config: RuntimeConfig;
  readonly registry: Registry;
  readonly readiness: () => Readiness;
  /** BullMQ's queues, whose metrics /metrics appends. */
  readonly queues: () => readonly MetricsQueue[];
  readonly plugins: readonly FastifyPluginAsync[];
  readonly clock: Clock;
}

/** How long a scrape waits for BullMQ's queue counts before leaving them out. */
const QUEUE_METRICS_TIMEOUT_MS = 1000;

/** Liveness and readiness answer whatever else is going on: a probe that times out restarts a healthy process. */
const isProbe = (url: string) => url === '/ready' || url === '/health' || url.startsWith('/health/');

/** Builds the HTTP surface without listening (tests inject()). */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const idleMs = options.config.HTTP_IDLE_TIMEOUT_MS;
  // A client that stops reading (or never finishes its request) is cut off after idleMs.
  const app = Fastify({ logger: false, requestTimeout: idleMs, keepAliveTimeout: Math.min(5000, idleMs) });
  limitInFlight(app, options.config.HTTP_MAX_IN_FLIGHT);
  // Node leaves a timed-out socket open while a response on it is still unsent, which is exactly
  // the client that stopped reading: destroy it.
  app.server.on('connection', (socket: Socket) => socket.setTimeout(idleMs, () => socket.destroy()));
  await app.register(underPressure, {
    maxEventLoopDelay: options.config.MAX_EVENT_LOOP_DELAY_MS,
    retryAfter: 5,
    message: 'quantum-gates is under pressure',
  });

  registerHealthRoutes(app, options.health, options.readiness);

  app.get('/metrics', async (request, reply) => {
    const original = options.originalMetrics;
    if (original && !exposition.test(request.headers.accept ?? '')) return send(reply, await original());
    const { registry } = options;
    const [body, queues] = await Promise.all([
      registry.metrics(), // always ends in a newline
      queueMetricsText(options.queues(), {
        registered: (name) => registry.getSingleMetric(name) !== undefined,
        timeoutMs: QUEUE_METRICS_TIMEOUT_MS,
        clock: options.clock,
      }),
    ]);
    return reply.type(registry.contentType).send(body + queues);
  });

  for (const plugin of options.plugins) await app.register(plugin);
  return app;
}

export type MetricsQueue = Pick<Queue, 'name' | 'exportPrometheusMetrics'>;

/**
 * Every queue's exportPrometheusMetrics() as one block for /metrics, families merged (Prometheus
 * refuses a second HELP line) and those the registry has left out. A queue that cannot answer in
 * `timeoutMs` leaves a comment rather than hold up the scrape, when quantum_gates_redis_up matters.
 */
export async function queueMetricsText(
  queues: readonly MetricsQueue[],
  options: { readonly registered: (family: string) => boolean; readonly timeoutMs: number; readonly clock?: Clock },
): Promise<string> {
  const families = new Map<string, string[]>();
  const unavailable: string[] = [];
  const exports = await Promise.allSettled(
    queues.map((queue) => withTimeout(queue.exportPrometheusMetrics(), options.timeoutMs, undefined, options.clock)),
  );
  exports.forEach((result, i) => {
    if (result.status === 'rejected') {
      const reason = (result.reason instanceof Error ? result.reason.message : String(result.reason)).replace(/\s+/g, ' ');
      unavailable.push(`# bullmq queue ${JSON.stringify(queues[i]!.name)}: metrics unavailable (${reason})`);
      return;
    }
    for (const line of result.value.split('\n')) {
      const name = /^(?:# (?:HELP|TYPE) )?([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)?.[1];
      if (name === undefined || options.registered(name)) continue; // blank lines, other comments
      let family = families.get(name);
      if (!family) families.set(name, (family = []));
      if (!line.startsWith('#') || !family.includes(line)) family.push(line);
    }
  });
  const lines = [...[...families.values()].flat(), ...unavailable];
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** At most `max` operator requests in hand; the next gets a 503 with Retry-After before any work. Probes are never refused. */
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

/** Binds a listener, turning the usual refusals into a start-up problem naming the setting to change. */
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

/** The hosted gates' `http.routes`: the runtime parses the request and writes the answer, the gate decides it. */
export function gateRoutesPlugin(
  handlers: readonly HostedHandler[],
  redis: RedisClient,
  logger: RootLogger,
  clock: Clock,
): FastifyPluginAsync {
  return async (app) => {
    for (const hosted of handlers) {
      const routes = hosted.handler.http?.routes ?? [];
      if (routes.length === 0) continue;
      const log = logger.child({ component: `${hosted.handler.name}-http` });
      const ctx = { config: hosted.config, metrics: hosted.metrics, redis, log, now: () => clock.now() };
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
              answer = { status: 500, contentType: 'text/plain; charset=utf-8', body: 'Internal Server Error' };
            }
            return send(reply, answer);
          },
        });
      }
    }
  };
}
