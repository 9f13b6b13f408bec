import { evalReadOnlyByHash, type RedisReader } from '../../runtime/contract/index.js';

/**
 * Runs the reads it is given in order, each under pcall, and answers their replies in one array
 * (a read that failed, say WRONGTYPE, answers its error in its place). ARGV: for each read, its
 * argument count, then its command and arguments. KEYS: every key read, declared so that Redis
 * Cluster refuses the script unless they all lie in one slot of the node it runs on.
 */
const RUN_READS = `
local out = {}
local i, n = 1, 0
while i <= #ARGV do
  local count = tonumber(ARGV[i])
  n = n + 1
  out[n] = redis.pcall(unpack(ARGV, i + 1, i + count))
  i = i + count + 1
end
return out
`;

/** RUN_READS by its hash (a batch sends it a few times), with its body after a NOSCRIPT. */
const runReads = (redis: RedisReader, keysAndArgs: readonly string[], keyCount: number): Promise<unknown> =>
  evalReadOnlyByHash(redis, redis, RUN_READS, keyCount, ...keysAndArgs);

/** A caller waiting for a read's reply. */
interface Waiter {
  readonly resolve: (reply: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface PendingRead {
  /** The keys it reads, declared to the script. */
  readonly keys: readonly string[];
  readonly args: readonly string[];
  readonly plain: () => Promise<unknown>;
  /** Every caller that asked for this same read in this turn: one reply answers them all. */
  readonly waiters: Waiter[];
}

/**
 * What names a read: its arguments joined by NUL, which no key the governor reads holds (a symbol
 * is [A-Za-z0-9_.-]); a read whose arguments hold one is never shared (undefined).
 */
function readId(args: readonly string[]): string | undefined {
  for (const arg of args) if (arg.includes('\0')) return undefined;
  return args.join('\0');
}

/** A copy of an array reply for each caller after the first, so no caller sees another's changes. */
function replyFor(reply: unknown, first: boolean): unknown {
  return !first && Array.isArray(reply) ? [...(reply as unknown[])] : reply;
}

/** Answers every waiter of `read` with `reply`, or rejects them all with `error`. */
function settle(read: PendingRead, reply: unknown, failed = reply instanceof Error): void {
  read.waiters.forEach((waiter, w) => {
    if (failed) waiter.reject(reply);
    else waiter.resolve(replyFor(reply, w === 0));
  });
}

/**
 * A reader whose GET, HGET, HMGET, LRANGE and EXISTS calls made in one turn of the event loop go to
 * Redis as one read-only script: the governor reads ~15 keys for each plan of a batch, and each
 * read sent on its own was an ioredis command, a promise and their garbage, two thirds of a plan's
 * CPU (docs/performance.md, issue #24). Every read answers what it would have answered alone, its
 * own error included, and all of them come from one moment. Where scripts cannot run (Redis
 * Cluster, where a plan's keys lie in different slots; a Redis without EVAL_RO) the reads are
 * sent one by one, as without this reader: from the start on a Cluster client, else from the
 * first refusal on. The same read asked for more than once in a turn (plans of one symbol in a
 * batch read the same keys: ~2.5 plans a symbol in the bench's batches) goes once, and its reply
 * answers each caller: they would have read the same value at that one moment anyway.
 * One per batch: a batch retried after a failure starts with a fresh one.
 */
export function coalescedReader(redis: RedisReader): RedisReader {
  let pending = new Map<string | symbol, PendingRead>();
  let scheduled = false;
  // A Cluster client sends a script to one node: its reads of other slots would answer nothing
  // there rather than fail. Declared keys make Redis refuse a script across slots (CROSSSLOT), so
  // a client that does not say it is one is safe too; this only spares the refused attempt.
  let scripts = (redis as { readonly isCluster?: boolean }).isCluster !== true;

  const sendPlain = (reads: Iterable<PendingRead>) => {
    for (const read of reads)
      read.plain().then(
        (reply) => settle(read, reply),
        (error: unknown) => settle(read, error, true),
      );
  };
  const flush = async (): Promise<void> => {
    const reads = [...pending.values()];
    pending = new Map();
    scheduled = false;
    if (!scripts || reads.length < 2) return sendPlain(reads);
    // The declared keys, then for each read its argument count and arguments (see RUN_READS).
    const keysAndArgs: string[] = [];
    for (const read of reads) for (const key of read.keys) keysAndArgs.push(key);
    const keyCount = keysAndArgs.length;
    for (const read of reads) {
      keysAndArgs.push(String(read.args.length));
      for (const arg of read.args) keysAndArgs.push(arg);
    }
    let replies: unknown[];
    try {
      replies = (await runReads(redis, keysAndArgs, keyCount)) as unknown[];
    } catch {
      scripts = false;
      return sendPlain(reads);
    }
    reads.forEach((read, i) => settle(read, replies[i]));
  };
  const enqueue = <T>(keys: readonly string[], args: readonly string[], plain: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const waiter: Waiter = { resolve: resolve as (reply: unknown) => void, reject };
      const id = readId(args);
      const same = id === undefined ? undefined : pending.get(id);
      if (same !== undefined) {
        same.waiters.push(waiter);
        return;
      }
      pending.set(id ?? Symbol('read'), { keys, args, plain, waiters: [waiter] });
      if (!scheduled) {
        scheduled = true;
        // Once the promise jobs running now have run: the plans started together (their
        // duplicate checks answered in one reply) have all sent the reads they make before
        // their first await. (process.nextTick, not a timer: tests with fake timers still flow.)
        process.nextTick(() => void flush());
      }
    });

  const coalesced: Pick<RedisReader, 'get' | 'hget' | 'hmget' | 'lrange' | 'exists'> = {
    get: (key: string) => enqueue([key], ['GET', key], () => redis.get(key)),
    // The position book's direct read asks two sigma fields with HGET for every plan.
    hget: (key: string, field: string) => enqueue([key], ['HGET', key, field], () => redis.hget(key, field)),
    hmget: (key: string, ...fields: string[]) => enqueue([key], ['HMGET', key, ...fields], () => redis.hmget(key, ...fields)),
    lrange: (key: string, start: number, stop: number) =>
      enqueue([key], ['LRANGE', key, String(start), String(stop)], () => redis.lrange(key, start, stop)),
    exists: (...keys: string[]) => enqueue(keys, ['EXISTS', ...keys], () => redis.exists(...keys)),
  };
  return new Proxy(redis, {
    get(target, property, receiver) {
      if (typeof property === 'string' && Object.hasOwn(coalesced, property)) return coalesced[property as keyof typeof coalesced];
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
