import type { RedisReader } from '../../runtime/contract/index.js';

/**
 * One read as its command and arguments (`['HMGET', key, field, …]`), for a list of reads made
 * together. Only the commands `sendRead` knows; the key is the second element, EXISTS's keys all after it.
 */
export type ReadCommand = readonly [command: 'GET' | 'HGET' | 'HMGET' | 'LRANGE' | 'EXISTS', key: string, ...args: string[]];

/** Sends one read as the client's own command: the plain path, exactly as a caller reading alone. */
export function sendRead(redis: RedisReader, read: ReadCommand): Promise<unknown> {
  switch (read[0]) {
    case 'GET':
      return redis.get(read[1]);
    case 'HGET':
      return redis.hget(read[1], read[2]!);
    case 'HMGET':
      return redis.hmget(read[1], ...read.slice(2));
    case 'LRANGE':
      return redis.lrange(read[1], Number(read[2]), Number(read[3]));
    case 'EXISTS':
      return redis.exists(...read.slice(1));
  }
}

/** Sends reads as the client's own commands, together: their replies in order, or the first refusal (as Promise.all). */
export function sendReads(redis: RedisReader, reads: readonly ReadCommand[]): Promise<unknown[]> {
  return Promise.all(reads.map((read) => sendRead(redis, read)));
}

/** Sends reads together: their replies in order, each read's error (WRONGTYPE) in its own place instead of rejecting. */
export function sendReadsSettled(redis: RedisReader, reads: readonly ReadCommand[]): Promise<unknown[]> {
  return Promise.all(
    reads.map((read) =>
      sendRead(redis, read).then(
        (reply) => reply,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      ),
    ),
  );
}

/**
 * A reply of several reads answered together holds each read's error in its place (as the read
 * alone would have rejected with it): this is the reply, or that error thrown.
 */
export function replyOf<T>(reply: unknown): T {
  if (reply instanceof Error) throw reply;
  return reply as T;
}
