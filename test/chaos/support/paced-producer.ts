import { Redis, ReplyError } from 'ioredis';

export interface PacedRun {
  /** Plan ids Redis acknowledged (or that were found in the stream after a lost reply). */
  readonly acknowledged: string[];
  /** XADD attempts that failed and were retried (the outage, seen from the producer). */
  readonly retries: number;
}

/**
 * Sends `count` proposals at `perSecond` through a connection of its own that fails fast while
 * Redis is down, retrying each XADD until Redis acknowledges it. Entry ids are explicit
 * (base-1, base-2, ...) so a retry whose first attempt did land is rejected by Redis rather than
 * duplicated, and the producer can tell "landed, reply lost" from "not written".
 */
export async function producePaced(
  url: string,
  stream: string,
  count: number,
  perSecond: number,
  fields: (i: number) => Record<string, string>,
): Promise<PacedRun> {
  const client = new Redis(url, {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    retryStrategy: () => 50,
  });
  client.on('error', () => undefined);
  const acknowledged: string[] = [];
  let retries = 0;
  const base = Date.now();
  const started = performance.now();
  try {
    for (let i = 0; i < count; i++) {
      const due = started + (i * 1000) / perSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const id = `${base}-${i + 1}`;
      const entry = fields(i);
      for (;;) {
        try {
          await client.xadd(stream, id, ...Object.entries(entry).flat());
          break;
        } catch (error) {
          if (error instanceof ReplyError && (await landed(client, stream, id))) break;
          retries += 1;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      acknowledged.push(entry.plan_id!);
    }
  } finally {
    client.disconnect();
  }
  return { acknowledged, retries };
}

async function landed(client: Redis, stream: string, id: string): Promise<boolean> {
  try {
    return (await client.xrange(stream, id, id)).length === 1;
  } catch {
    return false;
  }
}
