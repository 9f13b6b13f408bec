import type { RedisReader } from '../../runtime/contract/index.js';
import { gateLua } from '../lua.js';
import { keysOfRead, sendRead, type ReadCommand } from '../positions/read-commands.js';

/**
 * Runs the reads it is given in order, each under pcall, and answers their replies in one array
 * (a read that failed, say WRONGTYPE, answers its error in its place). ARGV: for each read, its
 * argument count, then its command and arguments. KEYS: every key read, declared so that Redis
 * Cluster refuses the script unless they all lie in one slot of the node it runs on.
 */
const RUN_READS = gateLua('governor', 'run-reads');

/** A caller waiting for a read's reply. */
interface Waiter {
  readonly resolve: (reply: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface PendingRead {
  /** The reads it sends: one for a single read, several for a composite one (readMany). */
  readonly reads: readonly ReadCommand[];
  /** A composite read answers every reply, errors in their places; a single one its own, or rejects. */
  readonly many: boolean;
  /** Every caller that asked for this same read in this turn: one reply answers them all. */
  readonly waiters: Waiter[];
}

/**
 * What names a single read: its arguments joined by NUL, which no key the governor reads holds (a
 * symbol is [A-Za-z0-9_.-]); a read whose arguments hold one is never shared (undefined).
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
function settle(read: PendingRead, reply: unknown, failed = !read.many && reply instanceof Error): void {
  read.waiters.forEach((waiter, w) => {
    if (failed) waiter.reject(reply);
    else waiter.resolve(replyFor(reply, w === 0));
  });
}

/** A read sent alone: its reply, or its error in its place (a composite read's plain path). */
const settledAlone = (redis: RedisReader, read: ReadCommand): Promise<unknown> =>
  sendRead(redis, read).then(
    (reply) => reply,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );

/** The governor's reader: RedisReader, plus reads sent as one. */
export interface CoalescedReader extends RedisReader {
  /**
   * Several reads as one: a single promise answering an array of their replies in order, each
   * read's error (WRONGTYPE) in its own place instead of rejecting (replyOf throws it), sent with
   * the turn's other reads. The governor reads ~10 keys of each symbol of a batch: one promise,
   * waiter and pending entry for all of them instead of one each (docs/performance.md, issue #24).
   */
  readMany(reads: readonly ReadCommand[]): Promise<unknown[]>;
}

/**
 * A reader whose GET, HGET, HMGET, LRANGE and EXISTS calls (and readMany's) made in one turn of
 * the event loop go to Redis as one read-only script: the governor reads ~15 keys for each plan of
 * a batch, and each read sent on its own was an ioredis command, a promise and their garbage, two
 * thirds of a plan's CPU (docs/performance.md, issue #24). Issue #38 measured plain reads on
 * ctx.redis (auto-pipelined, each symbol's reads once a batch) again: ~30 µs more CPU a plan
 * (+25-30%), 10-25% fewer plans/s. Every read answers what it would have answered alone, its own
 * error included, and all of them come from one moment. Where scripts cannot run (Redis Cluster,
 * where a plan's keys lie in different slots; a Redis without EVAL_RO) the reads are sent one by
 * one, as without this reader: from the start on a Cluster client, else from the first refusal on.
 * The same single read asked for more than once in a turn (plans of one symbol in a batch read the
 * same keys: ~2.5 plans a symbol in the bench's batches) goes once, and its reply answers each
 * caller: they would have read the same value at that one moment anyway. One per batch: a batch
 * retried after a failure starts with a fresh one.
 */
export function coalescedReader(redis: RedisReader): CoalescedReader {
  // In the order asked for; `byId` finds a single read already asked for in this turn.
  let pending: PendingRead[] = [];
  let byId = new Map<string, PendingRead>();
  let scheduled = false;
  // A Cluster client sends a script to one node: its reads of other slots would answer nothing
  // there rather than fail. Declared keys make Redis refuse a script across slots (CROSSSLOT), so
  // a client that does not say it is one is safe too; this only spares the refused attempt.
  let scripts = (redis as { readonly isCluster?: boolean }).isCluster !== true;

  const sendPlain = (reads: readonly PendingRead[]) => {
    for (const read of reads) {
      if (read.many) {
        void Promise.all(read.reads.map((r) => settledAlone(redis, r))).then((replies) => settle(read, replies));
        continue;
      }
      sendRead(redis, read.reads[0]!).then(
        (reply) => settle(read, reply),
        (error: unknown) => settle(read, error, true),
      );
    }
  };
  const flush = async (): Promise<void> => {
    const reads = pending;
    pending = [];
    byId = new Map();
    scheduled = false;
    if (!scripts || (reads.length < 2 && !(reads[0]?.many ?? false))) return sendPlain(reads);
    // The declared keys, then for each read its argument count and arguments (see RUN_READS).
    const keysAndArgs: string[] = [];
    for (const read of reads) for (const r of read.reads) for (const key of keysOfRead(r)) keysAndArgs.push(key);
    const keyCount = keysAndArgs.length;
    for (const read of reads)
      for (const r of read.reads) {
        keysAndArgs.push(String(r.length));
        for (const arg of r) keysAndArgs.push(arg);
      }
    let replies: unknown[];
    try {
      replies = (await redis.eval_ro(RUN_READS, keyCount, ...keysAndArgs)) as unknown[];
    } catch {
      scripts = false;
      return sendPlain(reads);
    }
    let at = 0;
    for (const read of reads) {
      const count = read.reads.length;
      settle(read, read.many ? replies.slice(at, at + count) : replies[at]);
      at += count;
    }
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    // Once the promise jobs running now have run: the plans started together (their duplicate
    // checks answered in one reply) have all sent the reads they make before their first await.
    // (process.nextTick, not a timer: tests with fake timers still flow.)
    process.nextTick(() => void flush());
  };
  const enqueue = <T>(read: ReadCommand): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const waiter: Waiter = { resolve: resolve as (reply: unknown) => void, reject };
      const id = readId(read);
      const same = id === undefined ? undefined : byId.get(id);
      if (same !== undefined) {
        same.waiters.push(waiter);
        return;
      }
      const pendingRead: PendingRead = { reads: [read], many: false, waiters: [waiter] };
      pending.push(pendingRead);
      if (id !== undefined) byId.set(id, pendingRead);
      schedule();
    });

  const coalesced: Pick<CoalescedReader, 'get' | 'hget' | 'hmget' | 'lrange' | 'exists' | 'readMany'> = {
    get: (key: string) => enqueue(['GET', key]),
    // The position book's direct read asks two sigma fields with HGET for every plan.
    hget: (key: string, field: string) => enqueue(['HGET', key, field]),
    hmget: (key: string, ...fields: string[]) => enqueue(['HMGET', key, ...fields]),
    lrange: (key: string, start: number, stop: number) => enqueue(['LRANGE', key, String(start), String(stop)]),
    exists: (...keys: string[]) => enqueue(['EXISTS', ...(keys as [string, ...string[]])]),
    readMany: (reads: readonly ReadCommand[]) =>
      new Promise<unknown[]>((resolve, reject) => {
        pending.push({ reads, many: true, waiters: [{ resolve: resolve as (reply: unknown) => void, reject }] });
        schedule();
      }),
  };
  return new Proxy(redis, {
    get(target, property, receiver) {
      if (typeof property === 'string' && Object.hasOwn(coalesced, property)) return coalesced[property as keyof typeof coalesced];
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as CoalescedReader;
}
