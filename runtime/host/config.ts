import { hostname } from 'node:os';
import * as z from 'zod';
import {
  ConfigError,
  didYouMean,
  envBool,
  envChoice,
  envInt,
  parseEnv,
  problemCollector,
  redisUrlSetting,
  type Env,
} from '../../schemas/env.js';
import type { AnyHandler } from '../contract/handler.js';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const hostPorts = z
  .string()
  .regex(/^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/, 'must be host:port[,host:port...]')
  .optional();

/** Runtime settings shared by every handler (docs/operations.md §8's table says what each means); handler settings live with each handler. */
export const runtimeEnvSchema = z.object({
  REDIS_URL: redisUrlSetting,
  REDIS_HOST: z.string().optional(),
  REDIS_PORT: envInt(6379, 1).refine((p) => p <= 65535, 'must be a port number (1-65535)'),
  REDIS_DB: envInt(0, 0),
  REDIS_CLUSTER_NODES: hostPorts,
  REDIS_SENTINELS: hostPorts,
  REDIS_SENTINEL_NAME: z.string().min(1).default('mymaster'),
  REDIS_PRIVATE: envBool(false),
  /** Password of the Redis server (with REDIS_HOST or REDIS_SENTINELS; REDIS_URL carries its own). */
  REDIS_PASSWORD: z.string().optional(),
  REDIS_CONNECT_TIMEOUT_MS: envInt(5000, 100),
  HOST: z.string().default('127.0.0.1'),
  PORT: envInt(8080, 0).refine((p) => p <= 65535, 'must be a port number (0-65535)'),
  HANDLERS: z.string().optional(),
  DLQ_STREAM: z.string().min(1).default('quantum:stream:dlq'),
  DLQ_MAXLEN: envInt(100_000, 0),
  STREAM_MAXLEN: envInt(100_000, 0),
  BATCH_SIZE: envInt(500, 1),
  BLOCK_MS: envInt(1000, 1),
  CLAIM_IDLE_MS: envInt(30_000, 100),
  CLAIM_INTERVAL_MS: envInt(5_000, 50),
  DEPARTED_CONSUMER_IDLE_MS: envInt(3_600_000, 0),
  /** An entry delivered more often than this (a message that kills its consumer) is dead-lettered. */
  MAX_DELIVERIES: envInt(10, 1),
  CONSUMER_NAME: z.string().min(1).default(`${hostname()}-${process.pid}`),
  SHUTDOWN_TIMEOUT_MS: envInt(10_000, 0),
  COMMAND_TIMEOUT_MS: envInt(5_000, 100),
  REDIS_STALL_MS: envInt(2_000, 100),
  HEARTBEAT_TIMEOUT_MS: envInt(15_000, 1_000),
  COMMIT_BACKOFF_MAX_MS: envInt(5_000, 10),
  LOG_LEVEL: envChoice(logLevels, 'info'),
  LOG_FORMAT: envChoice(['auto', 'json', 'pretty'], 'auto'),
  LOG_REPEAT_WINDOW_MS: envInt(60_000, 0),
  JOB_CONCURRENCY: envInt(64, 1),
  /** BullMQ key prefix; on Redis Cluster use a hash tag such as {quantum}. */
  BULLMQ_PREFIX: z.string().min(1).default('bull'),
  STATUS_CACHE_MS: envInt(1000, 0),
  HTTP_IDLE_TIMEOUT_MS: envInt(10_000, 100),
  HTTP_MAX_IN_FLIGHT: envInt(64, 1),
  /** Under-pressure: answer 503 when the event loop lags more than this. */
  MAX_EVENT_LOOP_DELAY_MS: envInt(1000, 0),
});

export type RuntimeConfig = z.infer<typeof runtimeEnvSchema>;

export function parseRuntimeConfig(env: Env): RuntimeConfig {
  return parseEnv(runtimeEnvSchema, env);
}

/** Parses the runtime's settings and each selected gate's, reporting every problem together. */
export function loadConfiguration(
  env: Env,
  all: readonly AnyHandler[],
): { config: RuntimeConfig; hosted: { handler: AnyHandler; config: unknown }[] } {
  const { attempt, note, throwIfAny } = problemCollector();
  const config = attempt(() => parseRuntimeConfig(env));
  // BullMQ runs its scripts over all of a queue's keys, which only a hash tag in the prefix puts in
  // one slot on a Cluster: without one every queue fails at start with a bare CROSSSLOT.
  if (config?.REDIS_CLUSTER_NODES && !/\{[^}]+\}/.test(config.BULLMQ_PREFIX)) {
    note(
      `BULLMQ_PREFIX: on a Redis Cluster (REDIS_CLUSTER_NODES) must hold a hash tag, e.g. BULLMQ_PREFIX={quantum}, so each queue's keys share one slot (got "${config.BULLMQ_PREFIX}"; docs/cluster.md)`,
    );
  }
  const selected = attempt(() => selectHandlers(all, env.HANDLERS)) ?? [];
  const hosted = selected.map((handler) => ({ handler, config: attempt(() => handler.config(env)) }));
  throwIfAny();
  return { config: config!, hosted }; // parsed: else throwIfAny threw
}

/** HANDLERS: gate names, or `all` and `-name` to leave one out (`all,-risk-budget`); unset or empty, every gate. */
export function selectHandlers(all: readonly AnyHandler[], spec: string | undefined): AnyHandler[] {
  if (spec === undefined || spec.trim() === '') return [...all];
  const words = spec.split(',').flatMap((name) => name.trim() || []);
  const known = all.map((h) => h.name);
  const unknown = words.filter((w) => w !== 'all' && !known.includes(w.replace(/^-/, '')));
  if (unknown.length > 0) {
    const named = unknown.map((w) => `${w}${didYouMean(w.replace(/^-/, ''), known, w.startsWith('-') ? '-' : '')}`);
    throw new ConfigError([`HANDLERS: unknown handler(s) ${named.join(', ')}; known: ${known.join(', ')} (or all,-name to leave one out)`]);
  }
  const left = new Set(words.filter((w) => w.startsWith('-')).map((w) => w.slice(1)));
  const named = words.includes('all') ? known : words.filter((w) => !w.startsWith('-'));
  return all.filter((h) => named.includes(h.name) && !left.has(h.name));
}
