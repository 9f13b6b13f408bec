import type { RedisReader } from '../../runtime/host/index.js';
import { READ_METHODS, readArgs, readIdentity, type TapedReads } from '../../app/tape/format.js';

/** A read the tape has no reply for: the rehearsed code reads what the running code did not. */
export class UnanswerableRead extends Error {
  constructor(readonly read: string) {
    super(`the tape has no reply for ${read}`);
    this.name = 'UnanswerableRead';
  }
}

type Reply = { readonly value: unknown; readonly failed: boolean };

/**
 * A reader answering from a decision's taped reads. A read asked again gets the next reply the
 * tape holds for it, then the last one again; a read the tape never saw rejects with
 * UnanswerableRead naming it, never with a made-up value. Answered first from `own`, then `shared`
 * (a ctx may read what its batch state's load read, and the other way round).
 */
export function replayReader(own: TapedReads, shared?: TapedReads): RedisReader {
  const replies = new Map<string, { list: Reply[]; next: number }>();
  for (const reads of shared ? [own, shared] : [own])
    for (const [method, args, value, failed] of reads.calls) {
      const identity = readIdentity(method, args);
      const entry = replies.get(identity) ?? { list: [], next: 0 };
      entry.list.push({ value, failed: failed === 1 });
      replies.set(identity, entry);
    }
  const answer = (method: string, args: unknown[]): Promise<unknown> => {
    const taped = readArgs(method, args);
    const entry = replies.get(readIdentity(method, taped));
    if (!entry) return Promise.reject(new UnanswerableRead(`${method} ${taped.map((a) => String(a)).join(' ')}`));
    const reply = entry.list[Math.min(entry.next, entry.list.length - 1)]!;
    entry.next += 1;
    return reply.failed ? Promise.reject(new Error(String(reply.value))) : Promise.resolve(structuredClone(reply.value));
  };
  return new Proxy({} as RedisReader, {
    get(_target, property) {
      if (typeof property !== 'string' || !READ_METHODS.has(property)) return undefined;
      return (...args: unknown[]) => answer(property, args);
    },
  });
}

/** The taped clock readings in order, then the last again (`fallback` when the decision read none). */
export function replayClock(reads: TapedReads | undefined, fallback: number): () => number {
  const clock = reads?.clock ?? [];
  let next = 0;
  return () => (clock.length === 0 ? fallback : clock[Math.min(next++, clock.length - 1)]!);
}
