/**
 * GET /health as each gate's original service answered it. A gate declares its answer (see
 * HealthDeclaration in handler.ts); the runtime serves it and knows no gate:
 *
 * - one hosted gate with a declared answer (a per-gate deployment): /health is that answer;
 * - none, or several (the all-in-one process): /health is the runtime's liveness body
 *   {"status":"ok"}, since no single original answered for several services at once;
 * - always: /health/{gate} is that gate's declared answer, so the all-in-one process still
 *   offers every original body, and /ready gives the runtime's own readiness details;
 * - a gate whose original served health on a port of its own (P2.7's P27_HEALTH_PORT) gets a
 *   listener there that answers GET /health exactly and nothing else, as that server did.
 */
import { createServer, type Server } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HealthAnswer } from '../contract/answer.js';

export interface GateHealth {
  readonly name: string;
  answer(): Promise<HealthAnswer>;
  /** A port of its own, or undefined. */
  readonly port: number | undefined;
}

export const livenessAnswer: HealthAnswer = { status: 200, contentType: 'application/json; charset=utf-8', body: '{"status":"ok"}' };

const failedAnswer = (error: unknown): HealthAnswer => ({
  status: 500,
  contentType: 'text/plain; charset=utf-8',
  body: `health check failed: ${error instanceof Error ? error.message : String(error)}`,
});

async function answerOf(gate: GateHealth): Promise<HealthAnswer> {
  try {
    return await gate.answer();
  } catch (error) {
    return failedAnswer(error);
  }
}

function send(reply: FastifyReply, answer: HealthAnswer) {
  // As bytes, so the content type goes out exactly as declared (Fastify adds a charset to JSON strings).
  return reply.code(answer.status).header('content-type', answer.contentType).send(Buffer.from(answer.body));
}

/** The /health answer of a process hosting these gates (see the rules above). */
export function processHealth(gates: readonly GateHealth[]): () => Promise<HealthAnswer> {
  const only = gates.length === 1 ? gates[0]! : undefined;
  return only ? () => answerOf(only) : () => Promise.resolve(livenessAnswer);
}

export function registerHealthRoutes(app: FastifyInstance, gates: readonly GateHealth[]): void {
  const health = processHealth(gates);
  app.get('/health', async (_request, reply) => send(reply, await health()));
  app.get<{ Params: { gate: string } }>('/health/:gate', async (request, reply) => {
    const gate = gates.find((g) => g.name === request.params.gate);
    if (!gate) return reply.code(404).send({ error: 'no_such_gate', gates: gates.map((g) => g.name) });
    return send(reply, await answerOf(gate));
  });
}

/**
 * One listener per gate that declared a port: GET exactly "/health" (the path as sent, a query
 * string makes it another path) answers, any other path is a 404 with no body, and a method
 * other than GET a 501, as Python's BaseHTTPRequestHandler did.
 */
export async function listenHealthPorts(gates: readonly GateHealth[], host: string): Promise<Server[]> {
  const servers: Server[] = [];
  for (const gate of gates) {
    if (gate.port === undefined) continue;
    const server = createServer((request, response) => {
      if (request.method !== 'GET') {
        response.writeHead(501, { 'content-type': 'text/plain' }).end(`Unsupported method ('${request.method ?? ''}')`);
        return;
      }
      if (request.url !== '/health') {
        response.writeHead(404).end();
        return;
      }
      void answerOf(gate).then((answer) => response.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(gate.port, host, () => resolve());
    });
    servers.push(server);
  }
  return servers;
}

export async function closeServers(servers: readonly Server[]): Promise<void> {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
}
