import { Cluster, type Redis } from 'ioredis';
import { retryPolicy } from './retry-policy.js';

/** A connection to Redis: one node (direct or through Sentinel) or a cluster. */
export type RedisClient = Redis | Cluster;

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
      const timer = setTimeout(done, retryPolicy.readyPollMs);
      client.once('ready', done);
    });
  }
}
