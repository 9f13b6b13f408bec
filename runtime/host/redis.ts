import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RuntimeConfig } from './config.js';

export type RedisClient = Redis | Cluster;

/** Connection roles: each has the retry semantics its job needs. */
export type ConnectionRole =
  /** Handler reads and small writes; auto-pipelined so concurrent reads share round trips. */
  | 'commands'
  /** XREADGROUP BLOCK needs a connection of its own. */
  | 'dedicated'
  /**
   * A committer's WATCH/MULTI/EXEC: its own connection, which never queues a command while
   * disconnected, since a WATCH does not survive a reconnect and a queued MULTI would then run
   * unguarded.
   */
  | 'transactions'
  /** BullMQ's own connection: it requires commands to wait out reconnects rather than fail. */
  | 'bullmq';

function baseOptions(role: ConnectionRole, config: RuntimeConfig): RedisOptions {
  if (role === 'bullmq') return { maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(50 * times, 2000) };
  return {
    // Never re-send a command whose reply was lost: a re-sent EXEC could apply twice. The runtime
    // decides what to redo from the stream's pending list instead.
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: role === 'commands',
    retryStrategy: (times: number) => Math.min(50 * times, 2000),
    lazyConnect: false,
    // Every command settles: a stalled Redis or a reply lost with its connection rejects the
    // command instead of leaving its caller waiting forever. A blocking read may take BLOCK_MS.
    commandTimeout: role === 'dedicated' ? config.BLOCK_MS + config.COMMAND_TIMEOUT_MS : config.COMMAND_TIMEOUT_MS,
  };
}

function hostPorts(spec: string): { host: string; port: number }[] {
  return spec.split(',').map((node) => {
    const [host, port] = node.split(':');
    return { host: host ?? '127.0.0.1', port: Number(port) };
  });
}

/**
 * A client for the Redis the configuration names: REDIS_CLUSTER_NODES, REDIS_SENTINELS,
 * REDIS_URL, or REDIS_HOST/PORT/DB, in that order. The runtime and the CLI both come here.
 */
export function createRedisClient(config: RuntimeConfig, options: RedisOptions, clusterOptions: Partial<ClusterOptions> = {}): RedisClient {
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
    // ioredis asks the sentinels for the current master and asks again after a failover.
    return new Redis({
      ...options,
      ...password,
      sentinels: hostPorts(config.REDIS_SENTINELS),
      name: config.REDIS_SENTINEL_NAME,
      db: config.REDIS_DB,
      // Follow a failover as soon as the sentinels announce it, and leave a demoted master (its
      // writes answer READONLY) for the one they name; nothing is re-sent, the runtime decides.
      failoverDetector: true,
      reconnectOnError: (error: Error) => (error.message.startsWith('READONLY') ? 1 : false),
    });
  }
  if (config.REDIS_URL) return new Redis(config.REDIS_URL, options);
  return new Redis({ ...options, ...password, host: config.REDIS_HOST ?? '127.0.0.1', port: config.REDIS_PORT, db: config.REDIS_DB });
}

/** Opens the runtime's connection for one role. */
export function connectRedis(config: RuntimeConfig, role: ConnectionRole, name: string): RedisClient {
  // On a cluster the committer uses no WATCH (guards are leases), and ioredis Cluster needs its
  // queue while it discovers the slots.
  const noQueue = role === 'transactions' && !config.REDIS_CLUSTER_NODES ? { enableOfflineQueue: false } : {};
  const client = createRedisClient(
    config,
    { ...baseOptions(role, config), ...noQueue, connectionName: name },
    { clusterRetryStrategy: (times: number) => Math.min(100 * times, 2000) },
  );
  if (role !== 'bullmq') rejectInFlightOnClose(client);
  return client;
}

/** The connection was lost with the command in flight: whether Redis ran it is unknown. */
export class ConnectionLostError extends Error {
  constructor() {
    super('connection lost with the command in flight');
    this.name = 'ConnectionLostError';
  }
}

interface CommandQueueItem {
  readonly command: { reject(error: Error): void };
}
/** ioredis internals: the commands in flight when a connection closed (see its closeHandler). */
interface ClosedClientQueues {
  prevCommandQueue?: { shift(): CommandQueueItem | undefined } | null;
}

/**
 * Without auto-resend, ioredis keeps the commands that were in flight when a connection closed
 * and drops them, unsettled, once it reconnects: a blocking XREADGROUP in flight during a
 * CLIENT KILL would then never return. Reject them as soon as the connection closes instead, so
 * the loop that sent them learns at once and re-reads its own pending entries.
 */
export function rejectInFlightOnClose(client: RedisClient): void {
  if (client instanceof Cluster) return; // each node's client is managed by the cluster, which re-routes
  client.on('close', () => {
    const queues = client as unknown as ClosedClientQueues;
    const lost = queues.prevCommandQueue;
    if (!lost) return;
    queues.prevCommandQueue = null;
    for (let item = lost.shift(); item; item = lost.shift()) item.command.reject(new ConnectionLostError());
  });
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

export function isReady(client: RedisClient): boolean {
  return client.status === 'ready';
}

/** Resolves once the client is ready (again), or when `signal` aborts. */
export async function waitUntilReady(client: RedisClient, signal?: AbortSignal): Promise<void> {
  while (!isReady(client) && !signal?.aborted) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        client.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, 250);
      client.once('ready', done);
    });
  }
}
