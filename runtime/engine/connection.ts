import type { Cluster, Redis } from 'ioredis';

/** A connection to Redis: one node (direct or through Sentinel) or a cluster. */
export type RedisClient = Redis | Cluster;

export const isReady = (client: RedisClient): boolean => client.status === 'ready';

/** The client's next 'ready', one listener however many gates wait for it (one each tripped MaxListenersExceededWarning). */
const nextReady = new WeakMap<RedisClient, Promise<void>>();

/** Until the client is ready (ioredis emits 'ready' whenever its status becomes so), or `signal` aborts. */
export async function waitUntilReady(client: RedisClient, signal?: AbortSignal): Promise<void> {
  while (!isReady(client) && !signal?.aborted) {
    let ready = nextReady.get(client);
    if (ready === undefined) {
      ready = new Promise<void>((resolve) => client.once('ready', () => (nextReady.delete(client), resolve())));
      nextReady.set(client, ready);
    }
    let aborted = (): void => undefined;
    await Promise.race([
      ready,
      new Promise<void>((resolve) => signal?.addEventListener('abort', (aborted = () => resolve()), { once: true })),
    ]);
    signal?.removeEventListener('abort', aborted);
  }
}

/** The part of a key Redis Cluster hashes: the first non-empty {tag}, else the whole key. */
export function slotTag(key: string): string {
  return /^[^{]*\{([^}]+)\}/.exec(key)?.[1] ?? key;
}
