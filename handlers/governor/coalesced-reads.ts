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

/** A composite read waiting for its turn's script. */
interface PendingRead {
  readonly reads: readonly ReadCommand[];
  readonly resolve: (replies: unknown[]) => void;
}

/** A read sent alone: its reply, or its error in its place (a composite read's plain path). */
const settledAlone = (redis: RedisReader, read: ReadCommand): Promise<unknown> =>
  sendRead(redis, read).then(
    (reply) => reply,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );

/** The governor's reader of a batch's symbols (see coalescedReader). */
export interface CoalescedReader {
  /**
   * Several reads as one: a single promise answering an array of their replies in order, each
   * read's error (WRONGTYPE) in its own place instead of rejecting (replyOf throws it), sent with
   * the turn's other reads. The governor reads ~15 keys of each symbol of a batch: one promise for
   * all of them instead of one each (docs/performance.md, issue #24).
   */
  readMany(reads: readonly ReadCommand[]): Promise<unknown[]>;
}

/**
 * A reader whose composite reads (readMany) made in one turn of the event loop go to Redis as one
 * read-only script: each read sent on its own was an ioredis command, a promise and their garbage,
 * two thirds of a plan's CPU (docs/performance.md, issue #24). Issue #38 measured plain reads on
 * ctx.redis (auto-pipelined, each symbol's reads once a batch) again: ~30 µs more CPU a plan
 * (+25-30%), 10-25% fewer plans/s. Every read answers what it would have answered alone, its own
 * error included, and all of them come from one moment. Where scripts cannot run (Redis Cluster,
 * where a plan's keys lie in different slots; a Redis without EVAL_RO) the reads are sent one by
 * one, as without this reader: from the start on a Cluster client, else from the first refusal
 * on. One per batch: a batch retried after a failure starts with a fresh one.
 */
export function coalescedReader(redis: RedisReader): CoalescedReader {
  let pending: PendingRead[] = [];
  let scheduled = false;
  // A Cluster client sends a script to one node: its reads of other slots would answer nothing
  // there rather than fail. Declared keys make Redis refuse a script across slots (CROSSSLOT), so
  // a client that does not say it is one is safe too; this only spares the refused attempt.
  let scripts = (redis as { readonly isCluster?: boolean }).isCluster !== true;

  const sendPlain = (reads: readonly PendingRead[]) => {
    for (const read of reads) void Promise.all(read.reads.map((r) => settledAlone(redis, r))).then(read.resolve);
  };
  const flush = async (): Promise<void> => {
    const reads = pending;
    pending = [];
    scheduled = false;
    if (!scripts) return sendPlain(reads);
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
      read.resolve(replies.slice(at, at + count));
      at += count;
    }
  };
  return {
    readMany: (reads) =>
      new Promise<unknown[]>((resolve) => {
        pending.push({ reads, resolve });
        if (scheduled) return;
        scheduled = true;
        // Once the promise jobs running now have run: the plans started together (their duplicate
        // checks answered in one reply) have all sent the reads they make before their first await.
        // (process.nextTick, not a timer: tests with fake timers still flow.)
        process.nextTick(() => void flush());
      }),
  };
}
