import { parseRuntimeConfig, type RuntimeConfig, type RedisClient, describeRedis } from '../runtime/host/index.js';
import { ConfigError } from '../schemas/env.js';
import {
  isRunning,
  privateRedisAnswers,
  privateRedisDir,
  readPrivateRedisRecord,
  connectVerified,
  RedisWiringError,
  findUnknownSettings,
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
  /**
   * The other Redis a command could mean, when a unit's env file was found by default and this
   * checkout's `npm start` runs its private one too: a write refuses to guess between them.
   */
  readonly alsoRunning?: string;
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

/** The variables that name a Redis. REDIS_PORT among them: set, it names 127.0.0.1 at that port. */
const NAMING = ['REDIS_URL', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const;

function namesRedis(env: Readonly<Record<string, string | undefined>>): boolean {
  return NAMING.some((name) => (env[name]?.trim() ?? '') !== '');
}

const PRIVATE = "the private redis-server of this checkout's npm start";

/**
 * Which Redis: with --private, this checkout's private redis-server; else the one the variables
 * (the shell's, or an env file's) name; with a units' env file found by default that names none,
 * the default its gates use too; else the private redis-server `npm start` runs with this data directory (its record in
 * <QG_DATA_DIR or .data>/redis), once the Redis on the recorded port proves to be it; else the
 * default, which nothing named.
 */
export async function cliRedis(io: CliIo): Promise<CliRedis> {
  const config = cliConfig(io);
  if (io.privateRedis) {
    if (namesRedis(io.env))
      throw new UsageError(
        `--private and ${NAMING.filter((n) => io.env[n]?.trim()).join(', ')}${io.envFile === undefined ? '' : ` (the shell's or ${io.envFile}'s)`} name two Redis: give one`,
      );
    const found = await checkoutRedis(io);
    if (found === undefined)
      throw new OperationalError(`--private: no npm start of this checkout runs a private redis-server (${privateRedisDir(io.env)})`);
    return found;
  }
  // A units' file found by default names the gates' Redis even when it sets no REDIS_* (their
  // default); a file named on purpose that names none (a what-if's settings) names no Redis.
  if (namesRedis(io.env) || io.envFileByDefault !== undefined) {
    const named = { config, namedBy: `settings from ${io.envFile ?? 'the environment'}` };
    if (io.envFileByDefault === undefined || namesRedis(io.envFileByDefault.shellEnv)) return named;
    const checkout = await checkoutRedis(io).catch(() => undefined);
    return checkout === undefined ? named : { ...named, alsoRunning: `${PRIVATE} at ${describeRedis(checkout.config)}` };
  }
  return (await checkoutRedis(io)) ?? { config, namedBy: undefined };
}

/**
 * The private redis-server of this checkout's `npm start`, trusted only when the Redis on the
 * recorded port is the one in this data directory: a record outlives its server (SIGKILL, a
 * reboot) and its port may be another program's by now. Undefined when `npm start` never ran
 * with this data directory; when it did but its server is not there, an error saying so and
 * whether `npm start` runs, rather than falling back to a default nobody named.
 */
async function checkoutRedis(io: CliIo): Promise<CliRedis | undefined> {
  const redisDir = privateRedisDir(io.env);
  const record = readPrivateRedisRecord(redisDir);
  if (record === undefined) return undefined;
  const answers = await privateRedisAnswers(redisDir, record.port);
  const where = `redis://127.0.0.1:${record.port}`;
  if (answers === 'ours')
    return {
      // REDIS_DB still applies to it; whatever else names a Redis (an env file's) does not.
      config: parseRuntimeConfig({
        ...Object.fromEntries(Object.entries(io.env).filter(([name]) => !(NAMING as readonly string[]).includes(name))),
        REDIS_HOST: '127.0.0.1',
        REDIS_PORT: String(record.port),
      }),
      namedBy: `${PRIVATE}, ${redisDir}/private-redis.json`,
    };
  const problem =
    answers === 'none' ? `${PRIVATE} does not answer at ${where}` : `the Redis at ${where} is not ${PRIVATE} (its data is elsewhere)`;
  const npmStart = isRunning(record)
    ? answers === 'none'
      ? `; npm start runs (pid ${record.pid}) and starts it again by itself: retry in a moment, or see ${redisDir}/redis.log`
      : `, though npm start runs (pid ${record.pid}): name the Redis with REDIS_URL or --env-file PATH`
    : `, and no npm start of this checkout runs: start it (npm start), or name a Redis with REDIS_URL or --env-file PATH`;
  throw new OperationalError(`${problem}${npmStart}. Nothing was done`);
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
  const target = await cliRedis(io);
  if (target.namedBy === undefined) io.err(defaultRedisNote(target.config));
  if (target.alsoRunning !== undefined)
    io.err(
      `quantum-gates: reading Redis ${describeRedis(target.config)} (${target.namedBy}); ${target.alsoRunning} runs too: --private reads that one`,
    );
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
