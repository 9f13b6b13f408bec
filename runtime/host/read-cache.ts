import type { ReadCommand } from '../contract/redis-reader.js';

/**
 * Replies of reads of watched keys, each kept until its key is written (KeyWatches feeds it every
 * keyspace event). A reply is kept only if no event of its key came while it was in flight, and an
 * event drops what is kept, so after the barrier (the subscriber's PONG follows every event published
 * before it) a kept reply is as new as every write before the barrier. A write no event reports
 * (FLUSHALL) leaves a stale reply, never a made-up one: its producer's own stamp still ages it out.
 */
export class ReadCache {
  /** Per key, its reads (one or two), their replies, and whether a reader took each since it was kept. */
  private readonly kept = new Map<string, [read: ReadCommand, reply: unknown, taken: boolean][]>();
  /** Keys with reads in flight: how many, and whether an event of the key came meanwhile. */
  private readonly inFlight = new Map<string, { count: number; written: boolean }>();

  /** At most `maxKeys` keys kept: past it all go at once (a read each to come back, bounded memory). */
  constructor(private readonly maxKeys = 20_000) {}

  /** Drops what is kept of `key`: undefined if nothing was, else the reads a reader took since kept (worth reading again). */
  written(key: string): readonly ReadCommand[] | undefined {
    const flying = this.inFlight.get(key);
    if (flying !== undefined) flying.written = true;
    const kept = this.kept.get(key);
    this.kept.delete(key);
    return kept?.filter(([, , taken]) => taken).map(([read]) => read);
  }

  /** Everything goes (the watch was lost: events may have been missed). */
  clear(): void {
    this.kept.clear();
    for (const flying of this.inFlight.values()) flying.written = true;
  }

  /** The kept reply of `read`, or MISS. */
  get(read: ReadCommand): unknown {
    const entry = this.kept.get(read[1])?.find(([keptRead]) => sameRead(keptRead, read));
    if (entry === undefined) return MISS;
    entry[2] = true;
    return entry[1];
  }

  /** Sends `read` and keeps its reply (a refusal of the key too: `isAnswer`) unless its key was written meanwhile; a reader's taken. */
  async read(read: ReadCommand, send: Send, isAnswer: (error: unknown) => boolean, forReader = false): Promise<unknown> {
    const key = read[1];
    const flying = this.inFlight.get(key) ?? { count: 0, written: false };
    flying.count++;
    this.inFlight.set(key, flying);
    const settled = (reply: unknown) => {
      if (--flying.count === 0) this.inFlight.delete(key);
      if (flying.written) return;
      if (this.kept.size >= this.maxKeys && !this.kept.has(key)) this.kept.clear();
      this.kept.set(key, [...(this.kept.get(key) ?? []).filter(([keptRead]) => !sameRead(keptRead, read)), [read, reply, forReader]]);
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

type Send = (read: ReadCommand) => Promise<unknown>;

/** Two reads of one key alike: the very command (the book keeps its own), else part by part; no identity string hashed (~7,000 at 1,000 held). */
export const sameRead = (a: ReadCommand, b: ReadCommand) =>
  a === b || (a.length === b.length && a.every((part, i) => i === 1 || part === b[i]));
