import { sendRead, type ReadCommand, type RedisReader } from '../contract/redis-reader.js';

/** The reader methods a ReadCommand stands for, and the command a call of one is. */
const AS_COMMAND: Readonly<Record<string, (args: readonly unknown[]) => ReadCommand>> = {
  get: (args) => ['GET', String(args[0])],
  hget: (args) => ['HGET', String(args[0]), String(args[1])],
  hmget: (args) => ['HMGET', String(args[0]), ...args.slice(1).map(String)],
  lrange: (args) => ['LRANGE', String(args[0]), String(args[1]), String(args[2])],
  exists: (args) => ['EXISTS', ...(args.map(String) as [string, ...string[]])],
};

const commandKey = (read: ReadCommand): string => JSON.stringify(read);

/**
 * A message's reads sent before its `handle` runs (OwnKeys.reads and its idempotency keys),
 * with the batch state's, in one round trip. `reader` answers a read that is exactly one of them
 * with the reply it got (each once: a second identical read goes to Redis, as it would have), so
 * the decision reads the same replies it would have read itself, a moment earlier: still after the
 * last commit of a commitEach gate, still checked by the commit's guards.
 */
export class PrefetchedReads {
  private readonly replies = new Map<string, Promise<unknown>[]>();

  constructor(redis: RedisReader, reads: readonly ReadCommand[]) {
    for (const read of reads) {
      const reply = sendRead(redis, read);
      // Its refusal is the reader's to give to the read that takes it; a reply nobody takes is dropped.
      reply.catch(() => undefined);
      const key = commandKey(read);
      const waiting = this.replies.get(key);
      if (waiting) waiting.push(reply);
      else this.replies.set(key, [reply]);
    }
  }

  /** `redis`, with the reads sent ahead answered from their replies. */
  reader(redis: RedisReader): RedisReader {
    return new Proxy(redis, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        const asCommand = typeof property === 'string' ? AS_COMMAND[property] : undefined;
        if (typeof value !== 'function') return value;
        if (asCommand === undefined) return (value as (...a: unknown[]) => unknown).bind(target);
        return (...args: unknown[]) => {
          const waiting = this.replies.get(commandKey(asCommand(args)));
          const reply = waiting?.shift();
          return reply ?? (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      },
    });
  }
}
