import type { Cluster, Redis } from 'ioredis';
import { retryPolicy } from './retry-policy.js';

/** A connection to Redis: one node (direct or through Sentinel) or a cluster. */
export type RedisClient = Redis | Cluster;

export function isReady(client: RedisClient): boolean {
  return client.status === 'ready';
}

/** The client's next 'ready', one listener however many gates wait for it (one each tripped MaxListenersExceededWarning). */
const nextReady = new WeakMap<RedisClient, Promise<void>>();

export async function waitUntilReady(client: RedisClient, signal?: AbortSignal): Promise<void> {
  while (!isReady(client) && !signal?.aborted) {
    let ready = nextReady.get(client);
    if (ready === undefined) {
      ready = new Promise<void>((resolve) => client.once('ready', () => (nextReady.delete(client), resolve())));
      nextReady.set(client, ready);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ready, new Promise<void>((resolve) => (timer = setTimeout(resolve, retryPolicy.readyPollMs)))]);
    clearTimeout(timer);
  }
}
