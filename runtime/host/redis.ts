import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { systemClock, type Clock } from '../engine/clock.js';
import type { Logger as RootLogger } from 'pino';
import type { RuntimeMetrics } from '../engine/metrics.js';
import { linear, retryPolicy } from '../engine/retry-policy.js';
import type { RuntimeConfig } from './config.js';
import { isReady, waitUntilReady, type RedisClient } from '../engine/connection.js';

export { isReady, waitUntilReady, type RedisClient } from '../engine/connection.js';

/**
 * commands: handler reads, auto-pipelined; dedicated: a blocking XREADGROUP; transactions: a
 * committer's, queueing nothing while disconnected (a WATCH does not survive a reconnect, and a
 * queued MULTI would run unguarded); bullmq: BullMQ requires commands to wait out reconnects;
 * subscriber: the key watches' keyspace events (runtime/host/key-watch.ts), which subscribe again
 * themselves after a reconnect, and rebuild before they are trusted.
 */
export type ConnectionRole = 'commands' | 'dedicated' | 'transactions' | 'bullmq' | 'subscriber';

const reconnectPause = (times: number) => linear(retryPolicy.reconnectStepMs, times, retryPolicy.reconnectMaxMs);

function hostPorts(spec: string): { host: string; port: number }[] {
  return spec.split(',').map((node) => {
    const [host, port] = node.split(':');
    return { host: host ?? '127.0.0.1', port: Number(port) };
  });
}

/**
 * RESP2, the protocol ioredis 5 spoke, on every connection the gates, the CLI and BullMQ open (ioredis 6
 * opens with HELLO 3 unless told). Under RESP3 a reply read through `call()` keeps RESP3's shape where
 * ioredis's typed methods reshape it: XREADGROUP's map of streams arrives flat, [stream, entries], where
 * the consumer reads [[stream, entries]] (runtime/sources/stream-consumer.ts). RESP3 gives the gates
 * nothing they use (no client-side caching, no pub/sub), so every connection stays on RESP2.
 */
export const REDIS_PROTOCOL = 2;

/** A client for REDIS_CLUSTER_NODES, REDIS_SENTINELS, REDIS_URL or REDIS_HOST/PORT/DB, in that order. */
export function createRedisClient(config: RuntimeConfig, given: RedisOptions, clusterOptions: Partial<ClusterOptions> = {}): RedisClient {
  const options: RedisOptions = { ...given, protocol: REDIS_PROTOCOL };
  if (config.REDIS_CLUSTER_NODES) {
    return new Cluster(hostPorts(config.REDIS_CLUSTER_NODES), {
      // Keyless commands (XGROUP, XINFO) go to a random node; a MOVED inside an auto-pipeline
      // surfaces as an error instead of being followed, so never auto-pipeline on a cluster.
      enableAutoPipelining: false,
      ...clusterOptions,
      redisOptions: { ...options, enableAutoPipelining: false },
    });
  }
  const password = config.REDIS_PASSWORD === undefined ? {} : { password: config.REDIS_PASSWORD };
  if (config.REDIS_SENTINELS) {
    return new Redis({
      // Follow a failover as soon as the sentinels announce it (a one-shot client turns it off:
      // ioredis's QUIT leaves the detector's sentinel connection open, and the process with it).
      failoverDetector: true,
      ...options,
      ...password,
      sentinels: hostPorts(config.REDIS_SENTINELS),
      name: config.REDIS_SENTINEL_NAME,
      db: config.REDIS_DB,
      // Leave a demoted master (its writes answer READONLY) for the one the sentinels name.
      reconnectOnError: (error: Error) => (error.message.startsWith('READONLY') ? 1 : false),
    });
  }
  if (config.REDIS_URL) return new Redis(config.REDIS_URL, options);
  return new Redis({ ...options, ...password, host: config.REDIS_HOST ?? '127.0.0.1', port: config.REDIS_PORT, db: config.REDIS_DB });
}

export function connectRedis(config: RuntimeConfig, role: ConnectionRole, name: string): RedisClient {
  const options: RedisOptions =
    role === 'bullmq'
      ? { maxRetriesPerRequest: null, retryStrategy: reconnectPause }
      : {
          // A re-sent EXEC could apply twice: the runtime redoes from the stream's pending list.
          autoResendUnfulfilledCommands: false,
          // Commands in flight on a lost connection reject at once rather than hang unsettled; the
          // loop that sent one re-reads its own pending entries.
          maxRetriesPerRequest: 0,
          enableAutoPipelining: role === 'commands',
          retryStrategy: reconnectPause,
          // Every command settles, even on a stalled Redis; a blocking read may take BLOCK_MS.
          commandTimeout: role === 'dedicated' ? config.BLOCK_MS + config.COMMAND_TIMEOUT_MS : config.COMMAND_TIMEOUT_MS,
          // On a cluster the committer uses no WATCH (guards are leases), and ioredis Cluster
          // needs its queue while it discovers the slots.
          ...(role === 'transactions' && !config.REDIS_CLUSTER_NODES ? { enableOfflineQueue: false } : {}),
          // A barrier's PING while disconnected fails at once (the gate reads every listed key), and
          // the key watch subscribes again itself, after checking the events are still on.
          ...(role === 'subscriber' ? { enableOfflineQueue: false, autoResubscribe: false } : {}),
        };
  return createRedisClient(
    config,
    { ...options, connectionName: name },
    { clusterRetryStrategy: (times: number) => linear(retryPolicy.clusterReconnectStepMs, times, retryPolicy.clusterReconnectMaxMs) },
  );
}

/** A description of where Redis is, safe to log (no password). */
export function describeRedis(config: RuntimeConfig): string {
  if (config.REDIS_CLUSTER_NODES) return `cluster ${config.REDIS_CLUSTER_NODES}`;
  if (config.REDIS_SENTINELS) return `sentinel master "${config.REDIS_SENTINEL_NAME}" via ${config.REDIS_SENTINELS}`;
  if (config.REDIS_URL) {
    const url = new URL(config.REDIS_URL);
    // A user name alone is most likely a password written without its leading colon.
    if (url.password) url.password = '***';
    else if (url.username) url.username = '***';
    // ioredis also takes options from the query, password among them.
    for (const key of [...url.searchParams.keys()]) if (/pass|secret|token|key/i.test(key)) url.searchParams.set(key, '***');
    return url.toString().replace(/%2A%2A%2A/g, '***');
  }
  return `redis://${config.REDIS_HOST ?? '127.0.0.1'}:${config.REDIS_PORT}/${config.REDIS_DB}`;
}

/** `text` with every form a configured password can take (as given, percent-decoded from a URL) replaced by ***. */
export function redactSecrets(config: RuntimeConfig, text: string): string {
  const secrets = new Set<string>([config.REDIS_PASSWORD ?? '']);
  // config validation already refused a URL that does not parse
  if (config.REDIS_URL && URL.canParse(config.REDIS_URL)) {
    const url = new URL(config.REDIS_URL);
    for (const raw of [url.password, url.searchParams.get('password') ?? '']) {
      secrets.add(raw);
      try {
        secrets.add(decodeURIComponent(raw));
      } catch {
        // a malformed escape: the raw form is all there is
      }
    }
  }
  let out = text;
  for (const secret of secrets) if (secret !== '') out = out.split(secret).join('***');
  return out;
}

/** While Redis does not answer at start, the log says so once this often. */
const WAITING_FOR_REDIS_LOG_MS = 60_000;

/** The process's Redis connections; closeAll() closes every one opened here. */
export type Connections = ReturnType<typeof openConnections>;

export function openConnections(config: RuntimeConfig, metrics: RuntimeMetrics) {
  const all: RedisClient[] = [];
  const open = (role: ConnectionRole, name: string): RedisClient => {
    const client = connectRedis(config, role, `quantum-gates:${name}`);
    client.on('error', () => undefined); // reconnects are reported by readiness and consumer logs
    all.push(client);
    return client;
  };
  // Commands, health probes, status reads and the handlers' read-only Redis.
  const commands = open('commands', 'commands');
  let lastError: string | undefined;
  commands.on('error', (error: Error) => (lastError = error.message));
  commands.on('ready', () => metrics.redisUp.set(1));
  commands.on('close', () => metrics.redisUp.set(0));
  const bull = open('bullmq', 'bullmq'); // BullMQ's queues and workers

  return {
    commands,
    bull,
    open,
    /** Until Redis answers (or `stopped`): /ready answers 503 meanwhile, and the log says why once a minute. */
    async waitForRedisAtStart(stopped: AbortSignal, logger: RootLogger, clock: Clock): Promise<void> {
      let saidAt: number | undefined;
      while (!isReady(commands) && !stopped.aborted) {
        if (saidAt === undefined || clock.now() - saidAt >= WAITING_FOR_REDIS_LOG_MS) {
          saidAt = clock.now();
          logger.warn(
            { redis: describeRedis(config), cause: redactSecrets(config, lastError ?? `connection ${commands.status}`) },
            'waiting for Redis to answer: the gates start when it does; /ready answers 503 until then',
          );
        }
        // Ready, or time to say it again; the other wait ends with it.
        const waited = new AbortController();
        const either = AbortSignal.any([stopped, waited.signal]);
        await Promise.race([waitUntilReady(commands, either), clock.sleep(WAITING_FOR_REDIS_LOG_MS, either)]);
        waited.abort();
      }
      if (saidAt !== undefined && !stopped.aborted) logger.info({ redis: describeRedis(config) }, 'Redis answers: starting the gates');
    },
    async closeAll(): Promise<void> {
      // A connection that never came up (Redis down since the start) has nothing to flush, and
      // its QUIT would wait in the offline queue for a Redis that may never answer.
      await Promise.all(all.map((c) => (isReady(c) ? c.quit().catch(() => c.disconnect()) : c.disconnect())));
    },
  };
}

/** A wait that ran out: what was waited for may still finish, unobserved. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** `work`, or a TimeoutError after `ms` on `clock`; the wait ends either way, so an answered one keeps nothing alive. */
export function withTimeout<T>(
  work: Promise<T>,
  ms: number,
  message = `no answer within ${ms} ms`,
  clock: Clock = systemClock,
): Promise<T> {
  const answered = new AbortController();
  const timeout = clock.sleep(ms, answered.signal).then((): never => {
    throw new TimeoutError(message);
  });
  timeout.catch(() => undefined); // only the race's loser when answered
  return Promise.race([work, timeout]).finally(() => answered.abort());
}
