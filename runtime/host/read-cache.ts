import type { ReadCommand } from '../contract/redis-reader.js';

/**
 * Replies of reads of watched keys, each kept until its key is written (KeyWatches feeds it every
 * keyspace event). A reply is kept only if no event of its key came while it was in flight, and an
 * event drops what is kept, so after the barrier (the subscriber's PONG follows every event published
 * before it) a kept reply is as new as every write before the barrier. A write no event reports
 * (FLUSHALL) leaves a stale reply, never a made-up one: its producer's own stamp still ages it out.
 */
export class ReadCache {
  private readonly kept = new Map<string, [ReadCommand, unknown][]>(); // per key, its reads (one or two) and their replies
  /** Keys with reads in flight: how many, and whether an event of the key came meanwhile. */
  private readonly inFlight = new Map<string, { count: number; written: boolean }>();

  /** At most `maxKeys` keys kept: past it all go at once (a read each to come back, bounded memory). */
  constructor(private readonly maxKeys = 20_000) {}

  /** Drops what is kept of `key`; true when something was (a reader asks for it: worth reading again). */
  written(key: string): boolean {
    const flying = this.inFlight.get(key);
    if (flying !== undefined) flying.written = true;
    return this.kept.delete(key);
  }

  /** Everything goes (the watch was lost: events may have been missed). */
  clear(): void {
    this.kept.clear();
    for (const flying of this.inFlight.values()) flying.written = true;
  }

  /** The kept reply of `read`, or MISS. */
  get(read: ReadCommand): unknown {
    const kept = this.kept.get(read[1]);
    if (kept !== undefined) for (const [keptRead, reply] of kept) if (sameRead(keptRead, read)) return reply;
    return MISS;
  }

  /** Sends `read` and keeps its reply (a refusal of the key too: `isAnswer`) unless its key was written meanwhile. */
  async read(read: ReadCommand, send: (read: ReadCommand) => Promise<unknown>, isAnswer: (error: unknown) => boolean): Promise<unknown> {
    const key = read[1];
    const flying = this.inFlight.get(key) ?? { count: 0, written: false };
    flying.count++;
    this.inFlight.set(key, flying);
    const settled = (reply: unknown) => {
      if (--flying.count === 0) this.inFlight.delete(key);
      if (flying.written) return;
      if (this.kept.size >= this.maxKeys && !this.kept.has(key)) this.kept.clear();
      this.kept.set(key, [...(this.kept.get(key) ?? []).filter(([keptRead]) => !sameRead(keptRead, read)), [read, reply]]);
    };
    try {
      const reply = await send(read);
      settled(reply);
      return reply;
    } catch (error) {
      if (isAnswer(error)) settled(error);
      else if (--flying.count === 0) this.inFlight.delete(key);
      throw error;
    }
  }

  get size(): number {
    return this.kept.size;
  }
}

/** What `get` answers for a read it keeps no reply of. */
export const MISS: unique symbol = Symbol('miss');

/** Two reads of one key alike: the very command (the book keeps its own), else part by part; no identity string hashed (~7,000 at 1,000 held). */
const sameRead = (a: ReadCommand, b: ReadCommand) => a === b || (a.length === b.length && a.every((part, i) => i === 1 || part === b[i]));
