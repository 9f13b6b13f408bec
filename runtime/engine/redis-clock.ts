import type { Clock } from './clock.js';

/** Redis's TIME as ms since the epoch: the clock every stream id, and every producer writing beside it, is read against. */
export type ReadRedisTime = () => Promise<number>;

/**
 * Redis's clock, as the gates read it. Every stream id is stamped on Redis's clock, and producers
 * are compared with it (a figure's age, a quote's skew, a plan's timestamp, a reservation's
 * expiry), so a decision reads Redis's clock, never this host's: a host clock 200 s ahead would
 * age every figure out of the book, one 8 s behind would see every plan as stamped ahead.
 *
 * The rule, in one place: `now()` is Redis's last TIME (taken at the midpoint of its round trip)
 * plus the host's time since, at most ANCHOR_SPAN_MS of it. A batch sends TIME in the round trip
 * of its reads and reads again when the clock it asked them with was off that TIME by more than
 * CLOCK_DRIFT_MS (execute.ts), so a jump of the host's clock reaches no decision; between
 * decisions the health probe's TIME keeps the readings fresh for the status and the routes.
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

  /** The rule above: a jump of the host's clock after the read moves no reading by more than ANCHOR_SPAN_MS (backwards, not at all). */
  readonly now = (): number => {
    const { anchor } = this;
    return anchor === undefined ? this.host.now() : this.readingAt(anchor, this.host.now());
  };
  readonly sleep: Clock['sleep'] = (ms, signal) => this.host.sleep(ms, signal);
  readonly every: Clock['every'] = (ms, tick) => this.host.every(ms, tick);

  /**
   * Reads Redis's TIME; from its answer on, now() is Redis's clock. Resolves with how far the
   * readings before it were off Redis's at that moment (ms, either way): a batch whose reads were
   * asked with a clock that far off reads again (execute.ts). Rejects as the read does (Redis's state: held).
   */
  async sync(): Promise<number> {
    const sentAt = this.host.now();
    const redisMs = await this.readTime();
    return this.note(redisMs, sentAt, this.host.now());
  }

  /** A TIME read between `sentAt` and `answeredAt` on the host's clock (the health probe's, or sync's); returns how far the readings before it were off. */
  note(redisMs: number, sentAt: number, answeredAt: number): number {
    // A host clock that jumped during the round trip makes its midpoint meaningless; the answer's
    // moment is then the nearer bound (the next sync, before the next decision, measures again).
    // Whole ms, as Date.now() reads: stamps written from now() are integers.
    const hostAt = Math.round(answeredAt >= sentAt && answeredAt - sentAt < JUMP_DURING_READ_MS ? (sentAt + answeredAt) / 2 : answeredAt);
    const wasOffMs = this.anchor === undefined ? Number.POSITIVE_INFINITY : Math.abs(this.readingAt(this.anchor, hostAt) - redisMs);
    this.anchor = { redisMs, hostAt };
    this.onOffset(hostAt - redisMs);
    return wasOffMs;
  }

  private readingAt(anchor: { readonly redisMs: number; readonly hostAt: number }, hostAt: number): number {
    return anchor.redisMs + Math.min(ANCHOR_SPAN_MS, Math.max(0, hostAt - anchor.hostAt));
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
