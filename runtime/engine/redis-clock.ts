import type { Clock } from './clock.js';

/** Redis's TIME as ms since the epoch: the clock every stream id, and every producer writing beside it, is read against. */
export type ReadRedisTime = () => Promise<number>;

/**
 * Redis's clock, as the gates read it. Every stream id is stamped on Redis's clock, and producers
 * are compared with it (a figure's age, a quote's skew, a plan's timestamp, a reservation's
 * expiry), so a decision reads Redis's clock, never this host's: a host clock 200 s ahead would
 * age every figure out of the book, one 8 s behind would see every plan as stamped ahead.
 *
 * The rule, in one place: `now()` is the host's clock plus the offset measured at the last `sync()`
 * (Redis's TIME, taken at the midpoint of its round trip, so within half a round trip). A decision
 * syncs before its reads (execute.ts), so a jump of the host's clock reaches no decision made after
 * it; between decisions the health probe's TIME keeps the offset fresh for the status and routes.
 * Waits are the host's: a duration is the same on either clock.
 */
export class RedisClock implements Clock {
  /** The last TIME read: Redis's ms, and the host's reading it is taken to have been made at. */
  private anchor: { readonly redisMs: number; readonly hostAt: number } | undefined;

  constructor(
    private readonly host: Clock,
    private readonly readTime: ReadRedisTime,
    /** Told each offset measured (the host's clock minus Redis's, in ms): the gauge and the status read it. */
    private readonly onOffset: (hostAheadMs: number) => void = () => undefined,
  ) {}

  /**
   * Redis's last TIME plus the host's time since, at most ANCHOR_SPAN_MS: a jump of the host's
   * clock after the read moves no reading by more than that (backwards, not at all), and the next
   * read (every batch, every health probe) anchors it again.
   */
  readonly now = (): number => {
    const { anchor } = this;
    if (anchor === undefined) return this.host.now();
    return anchor.redisMs + Math.min(ANCHOR_SPAN_MS, Math.max(0, this.host.now() - anchor.hostAt));
  };
  readonly sleep: Clock['sleep'] = (ms, signal) => this.host.sleep(ms, signal);
  readonly every: Clock['every'] = (ms, tick) => this.host.every(ms, tick);

  /** Reads Redis's TIME; from its answer on, now() is Redis's clock. Rejects as the read does (Redis's state: held). */
  async sync(): Promise<void> {
    const sentAt = this.host.now();
    const redisMs = await this.readTime();
    this.note(redisMs, sentAt, this.host.now());
  }

  /** A TIME read between `sentAt` and `answeredAt` on the host's clock (the health probe's, or sync's). */
  note(redisMs: number, sentAt: number, answeredAt: number): void {
    // A host clock that jumped during the round trip makes its midpoint meaningless; the answer's
    // moment is then the nearer bound (the next sync, before the next decision, measures again).
    // Whole ms, as Date.now() reads: stamps written from now() are integers.
    const hostAt = Math.round(answeredAt >= sentAt && answeredAt - sentAt < JUMP_DURING_READ_MS ? (sentAt + answeredAt) / 2 : answeredAt);
    this.anchor = { redisMs, hostAt };
    this.onOffset(hostAt - redisMs);
  }

  /** How far the host's clock is ahead of Redis's (negative: behind), in ms, at the last read; undefined before Redis first answered. */
  get hostAheadMs(): number | undefined {
    return this.anchor && this.anchor.hostAt - this.anchor.redisMs;
  }
}

/**
 * How far a reading may run past Redis's last TIME on the host's clock. Decisions read TIME before
 * each batch and take milliseconds; the health probe reads it every second at most; so a reading
 * this far past its anchor is a host clock that jumped, or a Redis that stopped answering.
 */
const ANCHOR_SPAN_MS = 2_000;

/** A round trip to Redis longer than this on the host's clock is a jump of that clock, not a slow answer. */
const JUMP_DURING_READ_MS = 5_000;

/** TIME's reply ([seconds, microseconds]) in ms since the epoch. */
export function redisTimeMs(reply: readonly (string | number)[]): number {
  return Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000);
}
