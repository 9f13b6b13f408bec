import type { Cluster, Redis } from 'ioredis';
import { retryPolicy } from './retry-policy.js';

/** A connection to Redis: one node (direct or through Sentinel) or a cluster. */
export type RedisClient = Redis | Cluster;

export function isReady(client: RedisClient): boolean {
  return client.status === 'ready';
}

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
