import { setTimeout as wait } from 'node:timers/promises';

/** Where the runtime reads the time and waits: the system's, or one a test drives. */
export interface Clock {
  now(): number; // ms since the epoch
  /** ms from an arbitrary origin, never set or stepped (the host's clock may be): what a duration is measured with. */
  monotonic(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts; never rejects. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `tick` every `ms` until the returned stop is called; keeps no process alive. */
  every(ms: number, tick: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) => wait(ms, undefined, signal ? { signal } : {}).catch(() => undefined),
  every: (ms, tick) => {
    const timer = setInterval(tick, ms).unref();
    return () => clearInterval(timer);
  },
};
