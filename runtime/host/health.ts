/**
 * Readiness, and GET /health as each gate's original service answered it: one hosted gate's
 * declared answer, else {"status":"ok"} (no original answered for several services at once);
 * /health/{gate} always, and on a gate's own health port (P2.7) GET /health only.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';
import type { HealthProbe, HttpAnswer } from '../contract/http.js';
import type { BacklogMonitor } from './backlog.js';
import type { HostedHandler } from '../engine/refresh.js';
import type { HostedGates } from './gates.js';
import { withTimeout, type RedisClient } from './redis.js';
import type { RedisFault, RedisHealth } from './redis-health.js';
import type { Clock } from '../engine/clock.js';
import type { KeyWatches } from './key-watch.js';

/** A health check answers within this, Redis or not (ioredis queues commands while reconnecting). */
const HEALTH_PING_TIMEOUT_MS = 1000;

/** What keeps the runtime from being ready; all empty while /ready answers 200. */
export interface ReadinessCauses {
  readonly starting: boolean;
  readonly redis: RedisFault | undefined;
  /** Each hosted gate that is not making progress: a fault of its own, or not consuming. */
  readonly gates: readonly { readonly gate: string; readonly cause: string; readonly since: number | null }[];
}

export type Readiness = ReturnType<typeof readiness>;

export interface ProgressSources {
  started(): boolean;
  readonly health: RedisHealth;
  readonly gates: HostedGates;
  readonly backlog: BacklogMonitor;
  /** The key watches: each one's state is a check of its own, never a cause (without it the gates read every listed key). */
  readonly watches?: Pick<KeyWatches, 'states'>;
}

/** Why the gates cannot make progress: what /ready and the status headline read. Redis first: it explains the gates. */
export function readinessCauses({ started, health, gates }: ProgressSources): ReadinessCauses {
  return {
    starting: !started(),
    redis: health.fault,
    gates: [
      ...gates.faults(),
      ...gates.consumers().flatMap((c) => (c.consuming ? [] : [{ gate: c.handler, cause: 'not consuming', since: null }])),
    ],
  };
}

/** /ready's answer: ready once started, Redis answers and every gate consumes without a fault. */
export function readiness(sources: ProgressSources) {
  const { starting, redis, gates } = readinessCauses(sources);
  // The first reason is the headline.
  const causes = [
    ...(starting ? ['starting'] : []),
    ...(redis ? [`redis ${redis.cause}: ${redis.detail} (since ${new Date(redis.since).toISOString()})`] : []),
    ...gates.map(({ gate, cause }) => `${gate}: ${cause}`),
  ];
  return {
    ready: causes.length === 0,
    checks: {
      ...(causes.length > 0 ? { cause: causes[0]!, causes: causes.join('; ') } : {}),
      redis: redis === undefined,
      consumers: gates.length === 0,
      ...Object.fromEntries(sources.gates.consumers().map((c) => [`consumer:${c.handler}`, !gates.some((g) => g.gate === c.handler)])),
      ...sources.watches?.states(),
      ...Object.fromEntries(
        sources.backlog.snapshot.flatMap((b) => [
          [`pending:${b.handler}`, b.pending],
          [`lag:${b.handler}`, b.lag ?? -1],
        ]),
      ),
    },
  };
}

export interface GateProbes {
  readonly health: readonly GateHealth[];
  /** The only hosted gate's original /metrics text, for a client that does not ask for Prometheus's format. */
  readonly originalMetrics?: () => Promise<HttpAnswer>;
}

export interface GateHealth {
  readonly name: string;
  answer(): Promise<HttpAnswer>;
  readonly port: number | undefined;
}

const livenessAnswer: HttpAnswer = { status: 200, contentType: 'application/json; charset=utf-8', body: '{"status":"ok"}' };

/** A gate's declared answer, or a 500 saying why there is none. */
async function answerOf(gate: GateHealth): Promise<HttpAnswer> {
  try {
    return await gate.answer();
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { status: 500, contentType: 'text/plain; charset=utf-8', body: `health check failed: ${why}` };
  }
}

/** A declared answer as declared; the body as bytes, since Fastify adds a charset to a text type sent as a string. */
export function send(reply: FastifyReply, answer: HttpAnswer) {
  for (const [name, value] of Object.entries(answer.headers ?? {})) void reply.header(name, value);
  return reply.code(answer.status).header('content-type', answer.contentType).send(Buffer.from(answer.body));
}

/** GET /health, /health/{gate} and /ready (503 under pressure too). */
export function registerHealthRoutes(app: FastifyInstance, gates: readonly GateHealth[], readiness: () => Readiness): void {
  const only = gates.length === 1 ? gates[0]! : undefined;
  app.get('/health', async (_request, reply) => send(reply, only ? await answerOf(only) : livenessAnswer));
  app.get('/ready', async (_request, reply) => {
    const { ready, checks } = readiness();
    const pressured = app.isUnderPressure();
    const ok = ready && !pressured;
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', underPressure: pressured, ...checks });
  });
  app.get<{ Params: { gate: string } }>('/health/:gate', async (request, reply) => {
    const gate = gates.find((g) => g.name === request.params.gate);
    if (!gate) return reply.code(404).send({ error: 'no_such_gate', gates: gates.map((g) => g.name) });
    return send(reply, await answerOf(gate));
  });
}

/** As Python's BaseHTTPRequestHandler answered: GET exactly "/health" (no query string), else 404 with no body, 501 for another method. */
export async function listenHealthPorts(gates: readonly GateHealth[], host: string): Promise<Server[]> {
  const servers: Server[] = [];
  for (const gate of gates) {
    if (gate.port === undefined) continue;
    const server = createServer((request, response) => {
      if (request.method !== 'GET')
        response.writeHead(501, { 'content-type': 'text/plain' }).end(`Unsupported method ('${request.method ?? ''}')`);
      else if (request.url !== '/health') response.writeHead(404).end();
      else void answerOf(gate).then((answer) => response.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body));
    });
    // Rejects on the server's 'error' (a port in use).
    await once(server.listen(gate.port, host), 'listening');
    servers.push(server);
  }
  return servers;
}

/** The gates' declared /health answers and, where one gate stands alone, its own /metrics text (MetricsDeclaration). */
export function gateProbes(
  sources: Omit<ProgressSources, 'started' | 'health'> & {
    hosted: readonly HostedHandler[];
    commands: RedisClient;
    registry: Registry;
    clock: Clock;
  },
): GateProbes {
  const { hosted, registry } = sources;
  const series = async (name: string) =>
    ((await registry.getSingleMetric(name)?.get())?.values ?? []).map((v) => ({
      labels: v.labels as Record<string, string | number>,
      value: v.value,
    }));
  const probeOf = (h: HostedHandler, i: number): HealthProbe<unknown> => ({
    config: h.config,
    ping: () =>
      withTimeout(sources.commands.ping(), HEALTH_PING_TIMEOUT_MS, 'Redis did not answer PING', sources.clock).then(() => undefined),
    metrics: async (): Promise<HttpAnswer> => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() }),
    metricValue: async (name) => (await series(name)).find((v) => Object.keys(v.labels).length === 0)?.value,
    metricSeries: series,
    get pending() {
      return sources.backlog.snapshot.find((b) => b.handler === h.handler.name)?.pending ?? 0;
    },
    get lastLoopMs() {
      return sources.gates.lastLoopMs(i);
    },
  });
  const health = hosted.flatMap((h, i): GateHealth[] => {
    const declared = h.handler.http?.health;
    if (!declared) return [];
    const probe = probeOf(h, i);
    return [{ name: h.handler.name, answer: () => declared.answer(probe), port: declared.port?.(h.config) }];
  });
  const onlyGate = hosted.length === 1 ? hosted[0]! : undefined;
  const ownMetrics = onlyGate?.handler.http?.metrics;
  return onlyGate && ownMetrics ? { health, originalMetrics: () => ownMetrics.answer(probeOf(onlyGate, 0)) } : { health };
}
