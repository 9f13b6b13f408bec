import { isRedisStateRefusal, sendRead, type ReadCommand, type RedisReader } from '../../runtime/contract/index.js';

// The reads a gate names (BatchHints.prefetch) are the contract's; re-exported for the readers here.
export { sendRead, type ReadCommand };

/** Sends reads as the client's own commands, together: their replies in order, or the first refusal (as Promise.all). */
export function sendReads(redis: RedisReader, reads: readonly ReadCommand[]): Promise<unknown[]> {
  return Promise.all(reads.map((read) => sendRead(redis, read)));
}

/**
 * Sends reads together: their replies in order, each read's error (WRONGTYPE) in its own place instead of rejecting.
 * A refusal that is Redis's state (an ACL, a failover, no answer) says nothing of its key: it rejects, as
 * settledReplies does, and the runtime holds the message until Redis serves it.
 */
export async function sendReadsSettled(redis: RedisReader, reads: readonly ReadCommand[]): Promise<unknown[]> {
  return settledReplies(
    await Promise.all(
      reads.map((read) =>
        sendRead(redis, read).then(
          (reply) => reply,
          (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
        ),
      ),
    ),
  );
}

/**
 * Replies whose errors each stand for their own key only, or the first error that is Redis's state
 * thrown (runtime/contract/redis-refusals.ts): a read refused so is no answer about its key, never
 * "absent" or "unreadable", so no decision is made on it.
 */
export function settledReplies<T extends unknown[]>(replies: T): T {
  const held = replies.find((reply) => reply instanceof Error && isRedisStateRefusal(reply));
  if (held !== undefined) throw held;
  return replies;
}

/**
 * A reply of several reads answered together holds each read's error in its place (as the read
 * alone would have rejected with it): this is the reply, or that error thrown.
 */
export function replyOf<T>(reply: unknown): T {
  if (reply instanceof Error) throw reply;
  return reply as T;
}
