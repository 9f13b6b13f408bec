import { ManualClock } from './clock.js';

interface SleepWaiter {
  readonly ms: number;
  readonly resolve: () => void;
}

/**
 * A ManualClock that tells the test when the runtime begins a wait on it: the test awaits the
 * backoff it expects to see, woken by the runtime's own call, not by a timer asking again.
 */
export class WatchedClock extends ManualClock {
  private readonly waiters = new Set<SleepWaiter>();

  override readonly sleep = ((sleep: ManualClock['sleep']): ManualClock['sleep'] => {
    return (ms, signal) => {
      const waiting = sleep(ms, signal);
      for (const waiter of this.waiters) {
        if (waiter.ms !== ms) continue;
        this.waiters.delete(waiter);
        waiter.resolve();
      }
      return waiting;
    };
  })(this.sleep);

  /**
   * Resolves once a wait of `ms` is under way on this clock (at once if one is already);
   * `timeoutMs` only bounds a wait that never begins.
   */
  untilSleep(ms: number, { timeoutMs = 15_000 } = {}): Promise<void> {
    if (this.sleeps.includes(ms)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a wait of ${ms} ms on the clock (waits: ${this.sleeps.join(', ')})`));
      }, timeoutMs);
      const waiter: SleepWaiter = {
        ms,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.add(waiter);
    });
  }
}
