import type { Cluster, Redis } from 'ioredis';

/** A connection to Redis: one node (direct or through Sentinel) or a cluster. */
export type RedisClient = Redis | Cluster;

export function isReady(client: RedisClient): boolean {
  return client.status === 'ready';
}

/** Until the client is ready (ioredis emits 'ready' whenever its status becomes so), or `signal` aborts. */
export async function waitUntilReady(client: RedisClient, signal?: AbortSignal): Promise<void> {
  while (!isReady(client) && !signal?.aborted) {
    await new Promise<void>((resolve) => {
      const done = () => {
        client.off('ready', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      client.once('ready', done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
