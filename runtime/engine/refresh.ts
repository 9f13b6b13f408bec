import type { AnyHandler } from '../contract/handler.js';
import type { Logger } from '../contract/logger.js';
import type { RedisReader } from '../contract/redis-reader.js';
import type { Clock } from './clock.js';

export interface HostedHandler {
  readonly handler: AnyHandler;
  readonly config: unknown;
  readonly metrics: object;
}

/**
 * Runs every gate's `batch.refresh` at start and every `everyMs`, in this process: gauges each
 * replica publishes itself (a BullMQ job would run in one replica). A run is never doubled.
 */
export function periodicRefresh(gates: readonly HostedHandler[], redis: RedisReader, logger: Logger, clock: Clock) {
  const timers: (() => void)[] = [];
  /** The run under way per gate: one at a time, and awaited by stop(). */
  const running = new Map<HostedHandler, Promise<void>>();
  return {
    start(): void {
      for (const gate of gates) {
        const { refresh, loadState } = gate.handler.batch ?? {};
        if (refresh === undefined || loadState === undefined) continue;
        let applied = false;
        const tick = (): void => {
          if (running.has(gate)) return;
          const run = loadState(redis, gate.config, clock.now())
            .then((state) => {
              refresh.apply(state, gate.metrics, gate.config, { first: !applied });
              applied = true;
            })
            .catch((error: unknown) => logger.warn({ err: error, handler: gate.handler.name }, 'refresh failed; the next run retries'))
            .finally(() => running.delete(gate));
          running.set(gate, run);
        };
        tick();
        timers.push(clock.every(refresh.everyMs(gate.config), tick));
      }
    },
    /** Stops the timers and waits for runs under way, so none reads Redis after its connection closed. */
    async stop(): Promise<void> {
      for (const stop of timers.splice(0)) stop();
      await Promise.all(running.values());
    },
  };
}
