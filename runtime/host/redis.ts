import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { linear, retryPolicy } from '../engine/retry-policy.js';
import type { RuntimeConfig } from './config.js';
import type { RedisClient } from '../engine/connection.js';

export { ConnectionLostError, isReady, waitUntilReady, type RedisClient } from '../engine/connection.js';

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

const reconnectPause = (times: number) => linear(retryPolicy.reconnectStepMs, times, retryPolicy.reconnectMaxMs);

function baseOptions(role: ConnectionRole, config: RuntimeConfig): RedisOptions {
  if (role === 'bullmq') return { maxRetriesPerRequest: null, retryStrategy: reconnectPause };
  return {
    // Never re-send a command whose reply was lost: a re-sent EXEC could apply twice. The runtime
    // decides what to redo from the stream's pending list instead.
    autoResendUnfulfilledCommands: false,
    // A connection lost with commands in flight rejects them at once (ioredis flushes the
    // commands left without a reply after this many reconnection attempts; with no auto-resend
    // they would otherwise be dropped unsettled on reconnect, and a blocking XREADGROUP in flight
    // during a CLIENT KILL would wait out its command timeout). The loop that sent one then
    // re-reads its own pending entries.
    maxRetriesPerRequest: 0,
    enableAutoPipelining: role === 'commands',
    retryStrategy: reconnectPause,
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
      // Follow a failover as soon as the sentinels announce it (a one-shot client turns it off:
      // ioredis's QUIT leaves the detector's sentinel connection open, and the process with it).
      failoverDetector: true,
      ...options,
      ...password,
      sentinels: hostPorts(config.REDIS_SENTINELS),
      name: config.REDIS_SENTINEL_NAME,
      db: config.REDIS_DB,
      // Leave a demoted master (its writes answer READONLY) for the one the sentinels name;
      // nothing is re-sent, the runtime decides.
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
  return createRedisClient(
    config,
    { ...baseOptions(role, config), ...noQueue, connectionName: name },
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

/** Every form a configured password can take in a message: as given, and percent-decoded from a URL. */
function secretsOf(config: RuntimeConfig): string[] {
  const secrets = new Set<string>();
  if (config.REDIS_PASSWORD) secrets.add(config.REDIS_PASSWORD);
  if (config.REDIS_URL) {
    try {
      const url = new URL(config.REDIS_URL);
      for (const raw of [url.password, url.searchParams.get('password') ?? '']) {
        if (raw === '') continue;
        secrets.add(raw);
        try {
          secrets.add(decodeURIComponent(raw));
        } catch {
          // a malformed escape: the raw form is all there is
        }
      }
    } catch {
      // config validation already refused a URL that does not parse
    }
  }
  return [...secrets].filter((s) => s.length > 0);
}

/** `text` with every configured password replaced by ***. */
export function redactSecrets(config: RuntimeConfig, text: string): string {
  let out = text;
  for (const secret of secretsOf(config)) out = out.split(secret).join('***');
  return out;
}
