import type { Logger } from './logger.js';
import type { RedisReader } from './redis-reader.js';
import type { AnyStatusSection } from './status-section.js';

/** What a gate serves over HTTP, beside the runtime's /metrics, /ready and status page. */
export interface HttpDeclaration<Config, Metrics> {
  readonly health?: HealthDeclaration<Config>; // none: the runtime's liveness body
  readonly metrics?: MetricsDeclaration<Config>; // none: the runtime's exposition only
  readonly routes?: readonly RouteDeclaration<Config, Metrics>[];
  readonly status?: readonly AnyStatusSection<Config>[];
}

/** One HTTP answer, byte for byte: status, content type, body and any further headers. */
export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** An HTTP request as a gate's route sees it: Fastify's parsing, none of Fastify's types. */
export interface RouteRequest {
  readonly method: string;
  readonly params: Readonly<Record<string, string>>; // the path's `:name` segments, decoded
  readonly query: Readonly<Record<string, string | readonly string[] | undefined>>; // a repeated parameter: an array, in order
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>; // lower-case names
}

/** Reads as ctx.redis, and the few direct writes an original's HTTP API made (a test-mode injection). */
export interface RouteRedis extends RedisReader {
  /** HGETALL as Redis sends it (field, value, ...): keeps the hash's field order, which an object loses for integer-like fields. */
  call(command: 'HGETALL', key: string): Promise<unknown>;
  hset(key: string, field: string, value: string): Promise<number>;
  expire(key: string, seconds: number): Promise<number>;
}

export interface RouteContext<Config, Metrics> {
  readonly config: Config;
  readonly metrics: Metrics; // applied at once: a request has no commit to wait for
  readonly redis: RouteRedis;
  readonly log: Logger;
  now(): number;
}

/** One route of the gate's own HTTP API, served by every process that hosts the gate; a throw is a plain 500. */
export interface RouteDeclaration<Config, Metrics> {
  readonly methods: readonly ('GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH')[];
  readonly path: string; // Fastify's syntax: `:name` captures one segment
  answer(request: RouteRequest, ctx: RouteContext<Config, Metrics>): HttpAnswer | Promise<HttpAnswer>;
}

/** What a gate's /health or /metrics answer is built from, at each request. */
export interface HealthProbe<Config> {
  readonly config: Config;
  ping(): Promise<void>; // PING on the command connection
  metrics(): Promise<HttpAnswer>; // the process's /metrics answer (prometheus_client's server gave it on every path)
  metricValue(name: string): Promise<number | undefined>; // an unlabelled metric's
  metricSeries(name: string): Promise<readonly { readonly labels: Readonly<Record<string, string | number>>; readonly value: number }[]>;
  readonly pending: number; // in the gate's consumer group (stream gates; 0 before the first look)
  readonly lastLoopMs: number; // the gate's last read-and-handle loop (stream gates)
}

/** The original service's GET /health, declared by the gate so the runtime need not know any gate. */
export interface HealthDeclaration<Config> {
  answer(probe: HealthProbe<Config>): Promise<HttpAnswer>;
  port?(config: Config): number | undefined; // where the original served health apart (P2.7); undefined: PORT only
}

/** For an original whose only HTTP server was prometheus_client's: every path, /health too, gave the metrics. */
export const metricsAsHealth: HealthDeclaration<unknown> = { answer: (probe) => probe.metrics() };

/** The original's own GET /metrics text (P2.7's), on PORT of a process hosting only this gate, to a client not asking for Prometheus's. */
export type MetricsDeclaration<Config> = Pick<HealthDeclaration<Config>, 'answer'>;
