import { parseRuntimeConfig, type RuntimeConfig, type RedisClient, describeRedis } from '../runtime/host/index.js';
import { ConfigError } from '../schemas/env.js';
import {
  packageRoot,
  isRunning,
  readPrivateRedisRecord,
  connectVerified,
  RedisWiringError,
  findUnknownSettings,
  redisIsConfigured,
  settingsRead,
} from '../app/cli-door.js';
import { OperationalError, UsageError } from './errors.js';
import type { CliIo } from './io.js';

const DEFAULT_TIMEOUT_MS = 3000;

/** The Redis a command talks to, and what named it. */
export interface CliRedis {
  readonly config: RuntimeConfig;
  /**
   * Where the setting came from ("settings from the environment", "settings from /etc/quantum/…"),
   * or undefined when nothing named a Redis and the defaults (127.0.0.1:6379) apply.
   */
  readonly namedBy: string | undefined;
}

/**
 * The runtime's settings from the same variables (REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_DB,
 * REDIS_CLUSTER_NODES, DLQ_STREAM...). A bad variable is the operator's input to fix: exit 2.
 * A REDIS_* variable that is a slip of a setting's name (REDIS_ULR) is refused as the server
 * refuses it: acting on the default Redis instead is how a command reached one nobody named.
 */
export function cliConfig(io: CliIo): RuntimeConfig {
  checkRedisVariableNames(io);
  try {
    return parseRuntimeConfig(io.env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

function checkRedisVariableNames(io: CliIo): void {
  const redisVariables = Object.fromEntries(Object.entries(io.env).filter(([name]) => name.startsWith('REDIS_')));
  const { typos, ignored } = findUnknownSettings(redisVariables, settingsRead(parseRuntimeConfig, io.env));
  if (typos.length > 0) throw new UsageError(`${typos.join('; ')}; nothing was done`);
  if (ignored.length > 0)
    io.err(`quantum-gates: ignored ${ignored.join(', ')}: no setting of quantum-gates reads ${ignored.length === 1 ? 'it' : 'them'}`);
}

/**
 * Which Redis: the one the variables (the shell's, or an env file's) name; with an env file that
 * names none, the default its gates use too; else the private redis-server `npm start` runs in
 * this checkout (its record in .data/redis); else the default, which nothing named.
 */
export function cliRedis(io: CliIo): CliRedis {
  const config = cliConfig(io);
  // As for the gates (app/main.ts): REDIS_PORT or REDIS_DB alone only change the default.
  if (redisIsConfigured(config) || io.envFile !== undefined) return { config, namedBy: `settings from ${io.envFile ?? 'the environment'}` };
  const record = readPrivateRedisRecord(packageRoot());
  if (record !== undefined && isRunning(record)) {
    return {
      config: parseRuntimeConfig({ ...io.env, REDIS_HOST: '127.0.0.1', REDIS_PORT: String(record.port) }),
      namedBy: "the private redis-server of this checkout's npm start, .data/redis/private-redis.json",
    };
  }
  return { config, namedBy: undefined };
}

/** What a command that falls back to the default says first, so nobody takes its answer for the gates'. */
export function defaultRedisNote(config: RuntimeConfig): string {
  return `quantum-gates: reading Redis ${describeRedis(config)} (default: nothing named a Redis; set REDIS_URL or pass --env-file PATH)`;
}

/**
 * Unlike the runtime's connections, which wait out a Redis restart, a command connects once
 * with a short timeout and never retries: an operator (or a script) must learn at once that
 * Redis is unreachable, not watch a hung prompt. It also proves the password and the database
 * (ioredis alone would carry on in database 0), and the message names the variable to fix.
 */
export async function connectCli(config: RuntimeConfig, timeoutMs: number): Promise<RedisClient> {
  try {
    return await connectVerified(config, timeoutMs, 'quantum-gates:cli');
  } catch (error) {
    if (error instanceof RedisWiringError) throw new OperationalError(error.message);
    throw error;
  }
}

/** Runs `fn` with a connected client and always closes it, so the process can exit on its own. */
export async function withRedis<T>(io: CliIo, fn: (redis: RedisClient, config: RuntimeConfig) => Promise<T>): Promise<T> {
  const target = cliRedis(io);
  if (target.namedBy === undefined) io.err(defaultRedisNote(target.config));
  return withConnection(io, target.config, fn);
}

/** `fn` with a client of `config`'s Redis, closed afterwards. */
export async function withConnection<T>(
  io: CliIo,
  config: RuntimeConfig,
  fn: (redis: RedisClient, config: RuntimeConfig) => Promise<T>,
): Promise<T> {
  const timeoutMs = Number(io.env.QG_REDIS_TIMEOUT_MS ?? DEFAULT_TIMEOUT_MS);
  const redis = await connectCli(config, Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : DEFAULT_TIMEOUT_MS);
  try {
    return await fn(redis, config);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
