import type { RedisReader } from '../../runtime/contract/index.js';

/**
 * One read as its command and arguments (`['HMGET', key, field, …]`), for callers that list a
 * symbol's reads and read their replies in order (the governor's snapshot, the position book).
 * Only the commands `sendRead` knows; the key is the second element, EXISTS's keys all after it.
 */
export type ReadCommand = readonly [command: 'GET' | 'HGET' | 'HMGET' | 'LRANGE' | 'EXISTS', key: string, ...args: string[]];

/** Sends one read as the client's own command. */
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

/**
 * Sends reads together and answers every reply in order, a read's refusal (WRONGTYPE) in its own
 * place instead of rejecting: the caller decides per read what an error means (replyOf throws it).
 */
export function sendEachRead(redis: RedisReader, reads: readonly ReadCommand[]): Promise<unknown[]> {
  return Promise.all(reads.map((read) => sendRead(redis, read).catch(asReply)));
}

/** A read's refusal as the reply it stands for in a list of replies (replyOf throws it again). */
export const asReply = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/**
 * A reply of several reads answered together holds each read's error in its place (as the read
 * alone would have rejected with it): this is the reply, or that error thrown.
 */
export function replyOf<T>(reply: unknown): T {
  if (reply instanceof Error) throw reply;
  return reply as T;
}
