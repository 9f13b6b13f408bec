import { sendRead, type ReadCommand, type RedisReader } from '../../runtime/contract/index.js';

// The reads a gate names (OwnKeys.reads) are the contract's; re-exported for the readers here.
export { sendRead, type ReadCommand };

/** Sends reads as the client's own commands, together: their replies in order, or the first refusal (as Promise.all). */
export function sendReads(redis: RedisReader, reads: readonly ReadCommand[]): Promise<unknown[]> {
  return Promise.all(reads.map((read) => sendRead(redis, read)));
}

/**
 * Whether a read's error is Redis refusing that key (another type: WRONGTYPE), the one error that
 * says something of its key only: the readers take it as that input's problem (unreadable, or
 * absent where the next write replaces the key). Every other error is no answer about the key: an
 * ACL, a failover or a stall is Redis's state (runtime/contract/redis-refusals.ts), a command the
 * client aborted or timed out was never answered, and anything else is not understood. Those fail
 * the read, so no decision is made on them.
 */
export function refusedKey(error: unknown): error is Error {
  return error instanceof Error && /^WRONGTYPE\b/.test(error.message);
}

/** A read's catch: its key's refusal (refusedKey) read as `value`, any other error thrown again. */
export const refusedAs =
  <T>(value: T) =>
  (error: unknown): T => {
    if (refusedKey(error)) return value;
    throw error;
  };

/**
 * Sends reads together: their replies in order, each read's key refusal (refusedKey) in its own place
 * instead of rejecting, or the first other error thrown (settledReplies).
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
 * Replies whose errors each stand for their own key only (refusedKey), or the first error that does
 * not, thrown: a read refused for Redis's state, aborted with its connection or failed in any way
 * that says nothing of its key is never "absent" or "unreadable", so no decision is made on it and
 * the runtime holds the message.
 */
export function settledReplies<T extends unknown[]>(replies: T): T {
  const held = replies.find((reply) => reply instanceof Error && !refusedKey(reply));
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
