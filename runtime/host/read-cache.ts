import type { ReadCommand } from '../contract/redis-reader.js';

/**
 * Replies of reads of watched keys, each kept until its key is written again (KeyWatches owns one
 * and feeds it every keyspace event). The rule a reader can hold: a reply is stored only if no event
 * of its key arrived while it was in flight, and any event drops what is stored, so after the
 * barrier (the subscriber's PONG follows every event published before it) a stored reply is at least
 * as new as every write made before the barrier. A write the events miss (FLUSHALL publishes none)
 * leaves a stale reply, never a made-up one: its producer's own stamp still ages it out.
 */
export class ReadCache {
  /**
   * Two generations, so a key no decision reads any more leaves within two turns: a hit moves its
   * reply into `current`; every TURN_READS reads `current` becomes `previous` and the old one goes.
   */
  private current = new Map<string, Map<string, unknown>>();
  private previous = new Map<string, Map<string, unknown>>();
  private readsThisTurn = 0;
  /** Keys with reads in flight, and whether an event of the key came since the first was sent. */
  private readonly inFlight = new Map<string, { count: number; written: boolean }>();

  constructor(private readonly turnReads = TURN_READS) {}

  /** A keyspace event of `key`: what is stored goes, and a reply in flight is not stored. */
  written(key: string): void {
    this.current.delete(key);
    this.previous.delete(key);
    const flying = this.inFlight.get(key);
    if (flying !== undefined) flying.written = true;
  }

  /** Everything goes (the watch was lost: events may have been missed). */
  clear(): void {
    this.current.clear();
    this.previous.clear();
    for (const flying of this.inFlight.values()) flying.written = true;
  }

  /** The stored reply of `read`, or `MISS`. */
  get(read: ReadCommand): unknown {
    const key = read[1];
    const id = readId(read);
    const stored = this.current.get(key);
    if (stored?.has(id)) return stored.get(id);
    const old = this.previous.get(key);
    if (!old?.has(id)) return MISS;
    const reply = old.get(id);
    this.store(key, id, reply);
    return reply;
  }

  /**
   * Sends `read` through `send` and stores its reply (a refusal too: an Error of its key alone) unless
   * its key was written meanwhile; a failure that is no answer about the key is not stored.
   */
  async read(read: ReadCommand, send: (read: ReadCommand) => Promise<unknown>, isAnswer: (error: unknown) => boolean): Promise<unknown> {
    const key = read[1];
    const flying = this.inFlight.get(key) ?? { count: 0, written: false };
    flying.count++;
    this.inFlight.set(key, flying);
    const settle = () => {
      if (--flying.count === 0) this.inFlight.delete(key);
      return !flying.written;
    };
    let reply: unknown;
    try {
      reply = await send(read);
    } catch (error) {
      if (settle() && isAnswer(error)) this.store(key, readId(read), error);
      throw error;
    }
    if (settle()) this.store(key, readId(read), reply);
    return reply;
  }

  /** Keys with a stored reply (the bound's gauge). */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  private store(key: string, id: string, reply: unknown): void {
    let stored = this.current.get(key);
    if (stored === undefined) this.current.set(key, (stored = new Map()));
    stored.set(id, reply);
    if (++this.readsThisTurn >= this.turnReads) {
      this.readsThisTurn = 0;
      this.previous = this.current;
      this.current = new Map();
    }
  }
}

/** What `get` answers for a read it holds no reply of. */
export const MISS: unique symbol = Symbol('miss');

/**
 * Stores per turn. A decision of the book stores nothing once warm (a hit is a store only from the
 * previous turn), so a turn spans many decisions; 20,000 is about 2,500 held symbols' reads, far
 * more than a book holds, so a held key is read again only after it was written.
 */
const TURN_READS = 20_000;

/** A read's identity under its key: the command and what follows the key. */
function readId([command, , ...args]: ReadCommand): string {
  return args.length === 0 ? command : `${command} ${args.join('\u0000')}`;
}
