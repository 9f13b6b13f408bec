import type { Redis } from 'ioredis';
import { fieldsToRecord } from '../../schemas/fields.js';

/**
 * Waits that wake on what they wait for, not on a timer: a stream's new entry (a blocking XREAD)
 * or a key's change (a keyspace notification). `timeoutMs` only bounds a wait that never ends: a
 * stream still growing is not one (a slower machine drains the same backlog later, not never).
 */

export type StreamEntry = Record<string, string> & { _id: string };

interface UntilOptions {
  readonly timeoutMs?: number;
  readonly what?: string;
}

/**
 * Resolves with `done`'s first truthy answer over all of `stream`'s entries (oldest first),
 * asked again after each entry appended. Entries removed meanwhile (a trim, FLUSHALL) stay in
 * what `done` sees. Fails `timeoutMs` after the last entry came (or the start, before any).
 */
export async function untilStream<T>(
  redis: Redis,
  stream: string,
  done: (entries: readonly StreamEntry[]) => T | undefined | null | false,
  { timeoutMs = 15_000, what = `entries in ${stream}` }: UntilOptions = {},
): Promise<NonNullable<T>> {
  const reader = redis.duplicate();
  let deadline = Date.now() + timeoutMs;
  const entries: StreamEntry[] = [];
  let after = '0-0';
  try {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out: no entry for ${timeoutMs} ms waiting for ${what} (${entries.length} entries)`);
      // BLOCK 0 would wait forever: the first read takes what is there, later ones wait for more.
      const reply = await reader.xread('COUNT', 10_000, 'BLOCK', Math.max(1, left), 'STREAMS', stream, after);
      for (const [id, fields] of reply?.[0]?.[1] ?? []) {
        entries.push({ _id: id, ...fieldsToRecord(fields) });
        after = id;
        deadline = Date.now() + timeoutMs;
      }
      const answer = done(entries);
      if (answer) return answer as NonNullable<T>;
    }
  } finally {
    reader.disconnect();
  }
}

/** The first `count` entries of `stream`, once it has them. */
export function untilStreamLength(redis: Redis, stream: string, count: number, options: UntilOptions = {}): Promise<StreamEntry[]> {
  return untilStream(redis, stream, (entries) => entries.length >= count && entries.slice(0, count), {
    what: `${count} entries in ${stream}`,
    ...options,
  });
}

/**
 * Resolves with `check`'s first truthy answer, asked now and again after each change of one of
 * `keys` (keyspace notifications, which this turns on in the test's own Redis).
 */
export async function untilKeys<T>(
  redis: Redis,
  keys: readonly string[],
  check: () => Promise<T> | T,
  { timeoutMs = 15_000, what = `a change of ${keys.join(', ')}` }: UntilOptions = {},
): Promise<NonNullable<T>> {
  await redis.config('SET', 'notify-keyspace-events', 'KA');
  const subscriber = redis.duplicate();
  let wake: () => void = () => {};
  subscriber.on('message', () => wake());
  try {
    await subscriber.subscribe(...keys.map((key) => `__keyspace@0__:${key}`));
    const deadline = Date.now() + timeoutMs;
    let last: T | undefined;
    for (;;) {
      // Armed before the check, so a change during it wakes the next round.
      const changed = new Promise<void>((resolve) => (wake = resolve));
      last = await check();
      if (last) return last as NonNullable<T>;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([changed, new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
  } finally {
    subscriber.disconnect();
  }
}

/**
 * One round trip on `redis`, for a test that saw a runtime's commit land (an untilStream or
 * untilKeys woke on it) and next reads what that runtime, in this process, does in memory on the
 * commit's reply: its metrics, counted right after the reply with no other wait on the way.
 * Redis sent that reply before it ran this PING, and this process handles its sockets' data in
 * the order it came, so by PING's answer the metrics are counted. Not a poll: one command.
 */
export async function afterRepliesSent(redis: Redis): Promise<void> {
  await redis.ping();
}

/**
 * `stream`'s entries once each of `values` is the `field` of one of them (an output per input
 * however many duplicates come first).
 */
export function untilEachSeen(
  redis: Redis,
  stream: string,
  field: string,
  values: Iterable<string>,
  options: UntilOptions = {},
): Promise<StreamEntry[]> {
  const missing = new Set(values);
  let read = 0;
  return untilStream(
    redis,
    stream,
    (entries) => {
      for (; read < entries.length; read++) missing.delete(entries[read]![field] ?? '');
      return missing.size === 0 && [...entries];
    },
    { what: `each of ${missing.size} ${field}s in ${stream}`, ...options },
  );
}
