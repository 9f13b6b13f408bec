import { Cluster, type RedisOptions } from 'ioredis';
import { connect } from 'node:net';
import {
  createRedisClient,
  describeRedis,
  evictionPolicy,
  keyspaceEvents,
  cacheOffWith,
  keyspaceEventsOff,
  missingKeyspaceFlags,
  redactSecrets,
  TimeoutError,
  withTimeout,
  type RedisClient,
  type RuntimeConfig,
} from '../runtime/host/index.js';
import { checkCommands, commandsFor, describeMissing } from './redis-commands.js';

/**
 * A Redis the configuration names but cannot be used as named: unreachable, a refused password,
 * a database the server does not have. The message is one line that starts with the variable to
 * fix and never holds a password.
 */
export class RedisWiringError extends Error {
  constructor(
    /** The setting to fix, which the message begins with; undefined when none is to blame (a data directory another npm start holds). */
    readonly variable: string | undefined,
    cause: string,
    /** Nothing answered (refused, timed out, no sentinel or node up): a Redis perhaps not up yet, not a wrong setting. */
    readonly unreachable = false,
  ) {
    super(variable === undefined ? cause : `${variable}: ${cause}`);
    this.name = 'RedisWiringError';
  }
}

/** Which variable an operator edits to fix each kind of wiring mistake, for the mode in use. */
function variablesOf(config: RuntimeConfig): { address: string; password: string; db: string } {
  if (config.REDIS_CLUSTER_NODES) return { address: 'REDIS_CLUSTER_NODES', password: 'REDIS_PASSWORD', db: 'REDIS_DB' };
  if (config.REDIS_SENTINELS) return { address: 'REDIS_SENTINELS (or REDIS_SENTINEL_NAME)', password: 'REDIS_PASSWORD', db: 'REDIS_DB' };
  if (config.REDIS_URL) return { address: 'REDIS_URL', password: 'REDIS_URL', db: 'REDIS_URL' };
  return { address: config.REDIS_HOST === undefined ? 'REDIS_PORT' : 'REDIS_HOST/REDIS_PORT', password: 'REDIS_PASSWORD', db: 'REDIS_DB' };
}

/** What answers at a single Redis's address, asked in plain RESP: Redis, something else (an HTTP port), or nothing. */
type Answerer = 'redis' | 'other' | 'nothing';

/**
 * The one-line explanation of a failed connection attempt, from the errors ioredis reported and,
 * for a single Redis that did not explain itself, what answers at its address in plain RESP.
 */
function explain(
  config: RuntimeConfig,
  errors: readonly Error[],
  timeoutMs: number,
  timedOut: boolean,
  answerer: Answerer,
): RedisWiringError {
  const vars = variablesOf(config);
  const where = describeRedis(config);
  const text = errors.map((e) => e.message).join(' | ');
  const first = redactSecrets(config, (errors[0]?.message ?? '').split('\n')[0] ?? '');
  if (/WRONGPASS|invalid password|invalid username-password/i.test(text)) {
    return new RedisWiringError(vars.password, `Redis at ${where} refused the password (WRONGPASS)`);
  }
  if (/NOAUTH/i.test(text)) {
    return new RedisWiringError(vars.password, `Redis at ${where} requires a password and none is configured (NOAUTH)`);
  }
  if (/DB index is out of range|invalid DB index|SELECT is not allowed/i.test(text)) {
    return new RedisWiringError(vars.db, `Redis at ${where} has no database ${dbOf(config)} (${first})`);
  }
  // Something answers, but not as the setting says: waiting will not change that, so it is a wiring
  // mistake (exit 1), not an outage to wait for.
  if (answerer === 'other' || /Protocol error/i.test(text)) {
    return new RedisWiringError(vars.address, `${where} is not a Redis: it answers another protocol (an HTTP port?)`);
  }
  if (answerer === 'redis' && isTls(config)) {
    return new RedisWiringError(vars.address, `${where} is a Redis without TLS: the TLS handshake got no answer; use redis:// for it`);
  }
  if (/SSL routines|wrong version number|ERR_SSL/i.test(text))
    return new RedisWiringError(vars.address, `TLS to ${where} failed: ${first}`);
  if (timedOut && errors.length === 0)
    return new RedisWiringError(vars.address, `cannot reach Redis at ${where}: no answer within ${timeoutMs} ms`, true);
  return new RedisWiringError(vars.address, `cannot reach Redis at ${where}: ${first || 'connection closed'}`, true);
}

function isTls(config: RuntimeConfig): boolean {
  return config.REDIS_URL?.startsWith('rediss://') === true;
}

/** A single Redis's host and port (not through Sentinel, not a cluster). */
function singleAddress(config: RuntimeConfig): { host: string; port: number } | undefined {
  if (config.REDIS_SENTINELS || config.REDIS_CLUSTER_NODES) return undefined;
  if (!config.REDIS_URL) return { host: config.REDIS_HOST ?? '127.0.0.1', port: config.REDIS_PORT };
  const url = new URL(config.REDIS_URL);
  return { host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(url.port || 6379) };
}

/**
 * What answers a plain PING at the address. A Redis answers "+PONG" or "-NOAUTH..."; an HTTP
 * server "HTTP/1.1 400". (A TLS ClientHello sent to a plain Redis is read as the start of an
 * inline command and never answered, so the handshake alone only times out.)
 */
function answererAt(address: { host: string; port: number }, timeoutMs: number): Promise<Answerer> {
  return new Promise((resolvePromise) => {
    const socket = connect(address.port, address.host);
    const done = (answer: Answerer) => {
      socket.destroy();
      resolvePromise(answer);
    };
    socket.setTimeout(timeoutMs, () => done('nothing'));
    socket.once('error', () => done('nothing'));
    socket.once('end', () => done('nothing'));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk: Buffer) => done(/^[+-]/.test(chunk.toString('latin1')) ? 'redis' : 'other'));
  });
}

function dbOf(config: RuntimeConfig): number {
  if (config.REDIS_URL && !config.REDIS_SENTINELS && !config.REDIS_CLUSTER_NODES) {
    const url = new URL(config.REDIS_URL);
    const fromPath = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined;
    return fromPath ?? Number(url.searchParams.get('db') ?? 0);
  }
  return config.REDIS_DB;
}

/**
 * Opens a connection that tries once, and proves it usable within `timeoutMs`: reachable, the
 * password accepted (AUTH), the database there (SELECT), a PING answered. ioredis alone would
 * start on database 0 when SELECT fails, and its errors carry the AUTH arguments; here every
 * failure becomes one RedisWiringError naming the variable. The caller owns the returned client.
 */
export async function connectVerified(config: RuntimeConfig, timeoutMs: number, connectionName: string): Promise<RedisClient> {
  const options: RedisOptions = {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    sentinelRetryStrategy: () => null,
    // Nothing to follow in one check or one command, and a detector would keep the process alive.
    failoverDetector: false,
    enableOfflineQueue: false,
    connectionName,
  };
  const client: RedisClient = createRedisClient(config, options, {
    lazyConnect: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: () => null,
  });
  // connect() often says only "Connection is closed"; the error events say why. Listening also
  // keeps ioredis from printing them (with the AUTH arguments) as unhandled.
  const errors: Error[] = [];
  client.on('error', (error: Error) => errors.push(error));
  let timedOut = false;
  try {
    await withTimeout(
      (async () => {
        await client.connect();
        if (!(client instanceof Cluster)) {
          const db = dbOf(config);
          // The connection selected it already if it could; asking again surfaces the refusal.
          if (db !== 0) await client.select(db);
        } else if (config.REDIS_DB !== 0) {
          throw new Error(`SELECT is not allowed: a Redis Cluster has only database 0 (REDIS_DB=${config.REDIS_DB})`);
        }
        await client.ping();
      })(),
      timeoutMs,
    );
    return client;
  } catch (error) {
    timedOut = error instanceof TimeoutError;
    if (!timedOut && error instanceof Error && !errors.includes(error)) errors.push(error);
    // Once the failed connection has ended, disconnect() would only arm a destroy timer that
    // keeps the process waiting.
    if (client.status !== 'end') client.disconnect();
    // An error that explains itself (a password, a database) needs no probe; a closed or silent
    // connection may be something that is not Redis, or a plain Redis asked in TLS.
    const explained = /WRONGPASS|invalid password|NOAUTH|DB index|SELECT is not allowed|Protocol error/i.test(
      errors.map((e) => e.message).join(' '),
    );
    // A silent address stays silent to a PING too: only a rediss:// one (a plain Redis never answers
    // a TLS handshake) is asked after a timeout, so a command still fails within its one timeout.
    const address = explained || (timedOut && !isTls(config)) ? undefined : singleAddress(config);
    const answerer = address === undefined ? 'nothing' : await answererAt(address, timeoutMs);
    throw explain(config, errors, timeoutMs, timedOut, answerer);
  }
}

/**
 * Keyspace events for the position book's key watch (runtime/host/key-watch.ts), on a single Redis
 * (a cluster's gates read every listed P3.3 hash instead): off stops the start naming the setting; a
 * warning when CONFIG GET is refused (the gates then read every listed hash, as with it off).
 */
async function keyspaceEventsCheck(config: RuntimeConfig, client: RedisClient): Promise<string | undefined> {
  if (config.REDIS_CLUSTER_NODES) return undefined;
  const events = await keyspaceEvents(client);
  if ('unknown' in events)
    return `notify-keyspace-events of Redis at ${describeRedis(config)} not checked (CONFIG GET refused: ${redactSecrets(config, events.unknown)}); the position book reads every listed P3.3 hash each decision until it can be (docs/operations.md)`;
  if (missingKeyspaceFlags(events.value).length > 0) throw new RedisWiringError('notify-keyspace-events', keyspaceEventsOff(events.value));
  // Correct without $, s and z, only slower: a warning, not a stop.
  const cacheOff = cacheOffWith(events.value);
  return cacheOff === undefined ? undefined : `Redis at ${describeRedis(config)}: ${cacheOff}`;
}

/**
 * Start-up check of the application: the configured Redis answers as configured, the account may
 * run every command the hosted `gates` need (app/redis-commands.ts, on every master of a
 * cluster), it never evicts keys (maxmemory-policy noeviction), and it sends the keyspace events
 * the position book's key watch needs, or one clear line. Answers a warning when a setting cannot
 * be read (CONFIG GET refused), naming why.
 */
export async function preflightRedis(
  config: RuntimeConfig,
  timeoutMs: number,
  gates: readonly string[],
  keyWatched = false,
): Promise<string | undefined> {
  const client = await connectVerified(config, timeoutMs, 'quantum-gates:preflight');
  try {
    const commands = await checkCommands(client, commandsFor(gates));
    const [first] = commands.missing;
    if (first !== undefined) throw new RedisWiringError(undefined, describeMissing(describeRedis(config), first));
    const events = keyWatched ? await keyspaceEventsCheck(config, client) : undefined;
    const eviction = await evictionPolicy(client);
    if ('unknown' in eviction)
      return `${events === undefined ? '' : `${events}; `}maxmemory-policy of Redis at ${describeRedis(config)} not checked (CONFIG GET refused: ${redactSecrets(config, eviction.unknown)}); the gates need noeviction (docs/operations.md)`;
    if (eviction.policy !== 'noeviction')
      throw new RedisWiringError(
        'maxmemory-policy',
        `Redis at ${describeRedis(config)} evicts keys when memory fills (maxmemory-policy ${eviction.policy}): the gates' reservations and permits would vanish; set maxmemory-policy noeviction (docs/operations.md)`,
      );
    return events;
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
}
