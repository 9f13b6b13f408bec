import { systemClock, type Clock } from '../../runtime/engine/clock.js';

/** The system's waits with the time read from `now`, durations too (`monotonic`): a world whose time the test drives. */
export const clockReading = (now: () => number): Clock => ({ ...systemClock, now, monotonic: now });

/**
 * A host whose clock is set apart from Redis's by `aheadMs()` (a failed NTP sync, a VM resumed,
 * a step back and forth), its monotonic clock the system's: no one sets that one.
 */
export const hostClockApart = (aheadMs: () => number): Clock => ({ ...systemClock, now: () => Date.now() + aheadMs() });

/**
 * A world whose time the test drives: the host's clock and Redis's (which decisions read) both
 * read `now`, so figures the test stamps with `now()` and entries Redis stamps agree as far as
 * the test says. createRuntime's options `clock` and `readRedisTime`.
 */
export const worldTime = (now: () => number) => ({ clock: clockReading(now), readRedisTime: () => Promise.resolve(now()) });

interface Timer {
  due: number;
  readonly fire: () => void;
  readonly everyMs?: number;
}

/** A clock that stands still until the test moves it: every wait and interval of the runtime fires only then. */
export class ManualClock implements Clock {
  private at: number;
  private readonly timers = new Set<Timer>();

  constructor(start = Date.now()) {
    this.at = start;
  }

  readonly now = (): number => this.at;
  readonly monotonic = (): number => this.at;

  readonly sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer: Timer = { due: this.at + ms, fire: resolve };
      this.timers.add(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.timers.delete(timer);
          resolve();
        },
        { once: true },
      );
    });

  readonly every = (ms: number, tick: () => void): (() => void) => {
    const timer: Timer = { due: this.at + ms, fire: tick, everyMs: ms };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  };

  /** The one-off waits under way, each as how long it asked to wait. */
  get sleeps(): number[] {
    return [...this.timers].filter((t) => t.everyMs === undefined).map((t) => t.due - this.at);
  }

  /** Moves the time on by `ms`, firing each wait and interval due on the way, in time order. */
  async advance(ms: number): Promise<void> {
    const end = this.at + ms;
    for (;;) {
      // What the last timer (or the caller) set going runs before the next one fires.
      await new Promise((resolve) => setImmediate(resolve));
      const next = [...this.timers].filter((t) => t.due <= end).sort((a, b) => a.due - b.due)[0];
      if (next === undefined) break;
      this.at = next.due;
      if (next.everyMs === undefined) this.timers.delete(next);
      else next.due += next.everyMs;
      next.fire();
    }
    this.at = end;
  }
}
