import type { RedisReader } from '../../runtime/host/index.js';
import { answeredReply, READ_METHODS, readIdentity, type TapedReads } from '../../app/cli-door.js';

/** A read the tape has no reply for: the rehearsed code reads what the running code did not. */
export class UnanswerableRead extends Error {
  constructor(readonly read: string) {
    super(`the tape has no reply for ${read}`);
    this.name = 'UnanswerableRead';
  }
}

type Reply = { readonly value: unknown; readonly failed: boolean };
/** The identity's method of one read of a taped cachedReads call, indexed alone. */
const PER_READ = 'cachedReads:read';
const MISSING = Symbol('missing');
/** One read of a cachedReads call as the tape holds it (runtime/contract ReadCommand): `['HMGET', key, field, …]`. */
type ReadCommand = readonly [command: string, ...words: string[]];

/** A decision's (or a batch state's) taped replies by read, each read's replies in the order they came. */
export class ReplyBook {
  private readonly replies = new Map<string, { list: Reply[]; next: number }>();

  constructor(reads: TapedReads | undefined) {
    for (const [method, args, value, failed] of reads?.calls ?? []) {
      this.add(readIdentity(method, args), { value, failed: failed === 1 });
      // Each read of a cachedReads call also alone: a release may ask it with other reads (PER_READ).
      const [, batch] = args as [string, readonly ReadCommand[] | undefined];
      if (method === 'cachedReads' && failed !== 1 && Array.isArray(value) && Array.isArray(batch))
        batch.forEach((read, i) => this.add(readIdentity(PER_READ, read), { value: value[i], failed: false }));
    }
  }

  private add(identity: string, reply: Reply): void {
    const entry = this.replies.get(identity) ?? { list: [], next: 0 };
    entry.list.push(reply);
    this.replies.set(identity, entry);
  }

  has(identity: string): boolean {
    return this.replies.has(identity);
  }

  /** The next reply taped for the read, then the last again; undefined when the read was never taped. */
  take(identity: string): Reply | undefined {
    const entry = this.replies.get(identity);
    if (!entry) return undefined;
    const reply = entry.list[Math.min(entry.next, entry.list.length - 1)]!;
    entry.next += 1;
    return reply;
  }
}

/**
 * A reader answering from taped replies: `own` first, then `shared` (a ctx may read what its batch
 * state's load read, and a batch state's reader what its messages read). A read the tape never saw
 * rejects with UnanswerableRead naming it, never with a made-up value.
 */
export function replayReader(own: ReplyBook, shared?: ReplyBook, onMissing?: (read: string) => void): RedisReader {
  const take = (identity: string): Reply | undefined => own.take(identity) ?? shared?.take(identity);
  const one = (method: string, args: readonly unknown[]): Reply => {
    const reply = take(readIdentity(method, args));
    if (reply) return reply;
    const read = `${method} ${args.map((a) => String(a)).join(' ')}`;
    // Told as well as thrown: the gate may catch the error (a read it fails open on), the rehearsal must still know.
    onMissing?.(read);
    throw new UnanswerableRead(read);
  };
  /**
   * A cachedReads call the tape does not hold whole (a release reading the book's keys in another
   * grouping, as 1.10.0 the listings): each read answered by its reply in another taped cachedReads
   * call of the decision, else by the same read taped as a plain call (a refusal an Error in its
   * place), as the running code sent it. One read neither answers makes the call unanswerable.
   */
  const readByRead = (name: unknown, reads: readonly ReadCommand[]): unknown[] => {
    const replies = reads.map((read) => {
      const reply = take(readIdentity(PER_READ, read));
      if (reply) return (answeredReply('cachedReads', [reply.value]) as unknown[])[0];
      const [command, ...words] = read;
      const plain = take(readIdentity(command.toLowerCase(), words));
      return plain === undefined ? MISSING : plain.failed ? new Error(String(plain.value)) : plain.value;
    });
    if (replies.includes(MISSING)) one('cachedReads', [name, reads]);
    return replies;
  };
  const answer = (method: string, args: unknown[]): Promise<unknown> => {
    try {
      const whole = readIdentity(method, args);
      // A barrier the tape lacks: the running code (a release before the reader took one) read
      // every key itself, so the rehearsed one is told the watch is not live and reads them as it did.
      if (method === 'keysToRead' && !own.has(whole) && !shared?.has(whole)) return Promise.resolve(null);
      if (method === 'cachedReads' && !own.has(whole) && !shared?.has(whole))
        return Promise.resolve(structuredClone(readByRead(args[0], args[1] as readonly ReadCommand[])));
      const reply = one(method, [...args]);
      return reply.failed
        ? Promise.reject(new Error(String(reply.value)))
        : Promise.resolve(answeredReply(method, structuredClone(reply.value)));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return new Proxy({} as RedisReader, {
    get(_target, property) {
      if (typeof property !== 'string' || !READ_METHODS.has(property)) return undefined;
      return (...args: unknown[]) => answer(property, args);
    },
  });
}

/**
 * The taped clock readings. When they were all one reading (a decision's usual case: it reads the
 * time within a millisecond), every reading is answered with it, so a release that reads the clock
 * once more or once less (a log line's timestamp) shifts none of the others. Otherwise in order,
 * then the last again; `fallback` when the decision read none.
 */
export function replayClock(reads: TapedReads | undefined, fallback: number): () => number {
  const clock = reads?.clock ?? [];
  if (clock.length === 0 || clock.every((at) => at === clock[0])) {
    const at = clock[0] ?? fallback;
    return () => at;
  }
  let next = 0;
  return () => clock[Math.min(next++, clock.length - 1)]!;
}
