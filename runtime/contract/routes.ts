import type { HttpAnswer } from './answer.js';
import type { Logger } from './logger.js';
import type { RedisReader } from './redis-reader.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** An HTTP request as a gate's route sees it: Fastify's parsing, none of Fastify's types. */
export interface RouteRequest {
  readonly method: string;
  /** The path's named segments (`:symbol`), decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** The query string; a repeated parameter is an array in the order given. */
  readonly query: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/**
 * Redis as a route may use it: reads as ctx.redis, and (a request has no commit to join) the few
 * direct writes an original's HTTP API made (a test-mode state injection). A route that changes
 * what gates decide should append to a stream instead.
 */
export interface RouteRedis extends RedisReader {
  /** HGETALL as Redis sends it (field, value, ...): keeps the hash's own field order, which an object loses for integer-like fields. */
  call(command: 'HGETALL', key: string): Promise<unknown>;
  hset(key: string, field: string, value: string): Promise<number>;
  expire(key: string, seconds: number): Promise<number>;
}

export interface RouteContext<Config, Metrics> {
  readonly config: Config;
  /** Applied at once: a request has no commit to wait for. */
  readonly metrics: Metrics;
  readonly redis: RouteRedis;
  readonly log: Logger;
  /** Milliseconds since the epoch. */
  now(): number;
}

/** One route of the gate's own HTTP API, served by every process that hosts the gate; a throw is a plain 500. */
export interface RouteDeclaration<Config, Metrics> {
  readonly methods: readonly HttpMethod[];
  /** Fastify's path syntax: `:name` captures one segment. */
  readonly path: string;
  answer(request: RouteRequest, ctx: RouteContext<Config, Metrics>): HttpAnswer | Promise<HttpAnswer>;
}
