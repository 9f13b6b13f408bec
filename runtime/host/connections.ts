import type { RootLogger } from '../engine/logger.js';
import type { RuntimeMetrics } from '../engine/metrics.js';
import type { RuntimeConfig } from './config.js';
import { connectRedis, describeRedis, isReady, redactSecrets, waitUntilReady, type ConnectionRole, type RedisClient } from './redis.js';

/** While Redis does not answer at start, the log says so once this often. */
const WAITING_FOR_REDIS_LOG_MS = 60_000;

/** The process's Redis connections: every one opened here is closed by closeAll(). */
export interface Connections {
  /** Commands, health probes, status reads and the handlers' read-only Redis. */
  readonly commands: RedisClient;
  /** BullMQ's queues and workers. */
  readonly bull: RedisClient;
  /** Opens one more connection of a role (a gate's reader, its committer). */
  open(role: ConnectionRole, name: string): RedisClient;
  /**
   * A Redis that is not up yet when the gates start is waited for like one still loading its
   * data: the connections retry with backoff, /ready answers 503 (starting), and one line a
   * minute says what the gates wait for and why. Returns once Redis answers or `stopped` aborts.
   */
  waitForRedisAtStart(stopped: AbortSignal, logger: RootLogger, now: () => number): Promise<void>;
  closeAll(): Promise<void>;
}

export function openConnections(config: RuntimeConfig, metrics: RuntimeMetrics): Connections {
  const all: RedisClient[] = [];
  const open = (role: ConnectionRole, name: string) => {
    const client = connectRedis(config, role, `quantum-gates:${name}`);
    client.on('error', () => undefined); // reconnects are reported by readiness and consumer logs
    all.push(client);
    return client;
  };
  const commands = open('commands', 'commands');
  let lastError: string | undefined;
  commands.on('error', (error: Error) => (lastError = error.message));
  commands.on('ready', () => metrics.redisUp.set(1));
  commands.on('close', () => metrics.redisUp.set(0));
  const bull = open('bullmq', 'bullmq');

  return {
    commands,
    bull,
    open,
    async waitForRedisAtStart(stopped, logger, now) {
      let saidAt: number | undefined;
      while (!isReady(commands) && !stopped.aborted) {
        if (saidAt === undefined || now() - saidAt >= WAITING_FOR_REDIS_LOG_MS) {
          saidAt = now();
          logger.warn(
            { redis: describeRedis(config), cause: redactSecrets(config, lastError ?? `connection ${commands.status}`) },
            'waiting for Redis to answer: the gates start when it does; /ready answers 503 until then',
          );
        }
        await waitUntilReady(commands, AbortSignal.any([stopped, AbortSignal.timeout(WAITING_FOR_REDIS_LOG_MS)]));
      }
      if (saidAt !== undefined && !stopped.aborted) logger.info({ redis: describeRedis(config) }, 'Redis answers: starting the gates');
    },
    async closeAll() {
      // A connection that never came up (Redis down since the start) has nothing to flush, and
      // its QUIT would wait in the offline queue for a Redis that may never answer.
      await Promise.all(all.map((c) => (isReady(c) ? c.quit().catch(() => c.disconnect()) : c.disconnect())));
    },
  };
}
