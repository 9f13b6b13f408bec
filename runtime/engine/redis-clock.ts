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
 * plus the time since on the host's monotonic clock, which no one sets and NTP does not step: a
 * jump of the host's clock moves no reading. The health probe reads TIME every second; a batch
 * reads it in the round trip of its reads only when the last is older than RESYNC_AFTER_MS (a
 * stalled probe; the shadow, without one, syncs every batch), and reads again when the clock it asked them
 * with was off that TIME by more than CLOCK_DRIFT_MS (execute.ts): its first batch, or Redis's own
 * clock stepped; a slow TIME is read again. Waits are the host's: a duration is the same on either clock.
 */
export class RedisClock implements Clock {
  /** The last TIME read: Redis's ms, and the host's monotonic reading it is taken to have been made at. */
  private anchor: { readonly redisMs: number; readonly at: number } | undefined;
  private ahead: number | undefined;

  constructor(
    private readonly host: Clock,
    private readonly readTime: ReadRedisTime,
    /** Told each offset measured (the host's clock minus Redis's, in ms): the gauge and the status read it. */
    private readonly onOffset: (hostAheadMs: number) => void = () => undefined,
  ) {}

  readonly now = (): number =>
    this.anchor === undefined ? this.host.now() : this.anchor.redisMs + Math.round(this.host.monotonic() - this.anchor.at);
  readonly monotonic = (): number => this.host.monotonic();
  readonly sleep: Clock['sleep'] = (ms, signal) => this.host.sleep(ms, signal);
  readonly every: Clock['every'] = (ms, tick) => this.host.every(ms, tick);

  /**
   * Reads Redis's TIME; from its answer on, now() is Redis's clock. Resolves with how far the
   * readings before it were off Redis's at that moment (ms, either way): a batch whose reads were
   * asked with a clock that far off reads again (execute.ts). Rejects as the read does (Redis's state: held).
   */
  async sync(): Promise<number> {
    let [sentAt, wallAt, redisMs] = [this.host.monotonic(), this.host.now(), await this.readTime()];
    // A slow answer (sent into an outage, answered after the reconnect) may be off its midpoint by seconds: read again.
    for (let tries = 1; this.host.monotonic() - sentAt > SLOW_TIME_MS && tries < TIME_TRIES; tries++)
      [sentAt, wallAt, redisMs] = [this.host.monotonic(), this.host.now(), await this.readTime()];
    const at = (sentAt + this.host.monotonic()) / 2;
    const { anchor } = this;
    const wasOffMs = anchor === undefined ? Number.POSITIVE_INFINITY : Math.abs(anchor.redisMs + Math.round(at - anchor.at) - redisMs);
    this.anchor = { redisMs, at };
    // The host's own clock at the same midpoint, shown (the gauge, the status), never used for a decision.
    this.ahead = Math.round(wallAt + (at - sentAt)) - redisMs;
    this.onOffset(this.ahead);
    return wasOffMs;
  }

  /** sync() when no TIME was read in the last RESYNC_AFTER_MS, else 0 with nothing sent: what a batch asks. */
  syncIfStale(): Promise<number> {
    return this.anchor !== undefined && this.host.monotonic() - this.anchor.at < RESYNC_AFTER_MS ? Promise.resolve(0) : this.sync();
  }

  /** How far the host's clock is ahead of Redis's (negative: behind), in ms, at the last read; undefined before Redis first answered. */
  get hostAheadMs(): number | undefined {
    return this.ahead;
  }
}

/**
 * How old Redis's last TIME may be for a batch to read on it without one of its own: twice the
 * health probe's period, so a running probe leaves decisions none to send (one command a decision
 * at upstream's rates, issue #72), and the monotonic clock's drift over it is microseconds. A TIME
 * answered after a round trip over SLOW_TIME_MS (a millisecond or two here) is read again, up to
 * TIME_TRIES reads (test/chaos/clock-after-outage.test.ts).
 */
const [RESYNC_AFTER_MS, SLOW_TIME_MS, TIME_TRIES] = [2_000, 100, 3];

/** TIME's reply ([seconds, microseconds]) in ms since the epoch. */
export function redisTimeMs(reply: readonly (string | number)[]): number {
  return Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000);
}
