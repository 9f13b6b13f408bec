import { Redis } from 'ioredis';
import { pino } from 'pino';
import { p33KeyWatch, type PositionBookConfig } from '../../handlers/positions/book.js';
import type { RedisReader } from '../../runtime/contract/index.js';
import { systemClock, type Clock } from '../../runtime/engine/clock.js';
import { createRegistry, promMetricFactory } from '../../runtime/engine/metrics.js';
import { KeyWatches } from '../../runtime/host/key-watch.js';
import { REDIS_PROTOCOL } from '../../runtime/host/redis.js';
import { clockReading } from './clock.js';
import { waitFor } from './runtime.js';

export interface StartedKeyWatch {
  readonly watches: KeyWatches;
  /** `commands` with the watch's keysToRead, as the runtime gives a gate's ctx.redis. */
  readonly reader: RedisReader;
  readonly subscriber: Redis;
  stop(): Promise<void>;
}

/**
 * The runtime's P3.3 key watch (runtime/host/key-watch.ts) on its own subscriber connection to `url`,
 * judging at `now` (or on a clock the test drives), live before this returns: what a gate hosting the
 * book reads through.
 */
export async function startP33KeyWatch(
  url: string,
  commands: Redis,
  config: PositionBookConfig,
  now?: (() => number) | Clock,
): Promise<StartedKeyWatch> {
  const subscriber = new Redis(url, {
    protocol: REDIS_PROTOCOL,
    enableOfflineQueue: false,
    autoResubscribe: false,
    maxRetriesPerRequest: 0,
  });
  subscriber.on('error', () => undefined);
  const clock: Clock = now === undefined ? systemClock : typeof now === 'function' ? clockReading(now) : now;
  const watches = new KeyWatches([p33KeyWatch(config)], {
    commands,
    openSubscriber: () => subscriber,
    clock,
    logger: pino({ level: 'silent' }),
    factory: promMetricFactory(createRegistry()),
  });
  watches.start();
  await waitFor(
    () => Object.entries(watches.states()).every(([check, s]) => check.startsWith('key_watch_cache:') || s === 'live') || undefined,
    { timeoutMs: 10_000, intervalMs: 20 },
  );
  return {
    watches,
    reader: watches.reader(commands),
    subscriber,
    async stop() {
      watches.stop();
      subscriber.disconnect();
    },
  };
}
