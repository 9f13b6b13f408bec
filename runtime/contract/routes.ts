import type { Logger } from './logger.js';
import type { RedisReader } from './redis-reader.js';

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

/**
 * Reads as ctx.redis, and (a request has no commit to join) the few direct writes an original's
 * HTTP API made (a test-mode state injection). A route that changes what gates decide should
 * append to a stream instead.
 */
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
