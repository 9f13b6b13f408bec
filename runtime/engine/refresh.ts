import type { AnyHandler } from '../contract/handler.js';
import type { Logger } from '../contract/logger.js';
import type { RedisReader } from '../contract/redis-reader.js';

export interface HostedHandler {
  readonly handler: AnyHandler;
  readonly config: unknown;
  readonly metrics: object;
}

/**
 * Runs every gate's `batch.refresh` at start and every `everyMs`, in this process: gauges each
 * replica publishes itself (a BullMQ job would run in one replica). A run is never doubled.
 */
export function periodicRefresh(gates: readonly HostedHandler[], redis: RedisReader, logger: Logger, now: () => number) {
  const timers: NodeJS.Timeout[] = [];
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
          const run = loadState(redis, gate.config, now())
            .then((state) => {
              refresh.apply(state, gate.metrics, gate.config, { first: !applied });
              applied = true;
            })
            .catch((error: unknown) => logger.warn({ err: error, handler: gate.handler.name }, 'refresh failed; the next run retries'))
            .finally(() => running.delete(gate));
          running.set(gate, run);
        };
        tick();
        const timer = setInterval(tick, refresh.everyMs(gate.config));
        timer.unref();
        timers.push(timer);
      }
    },
    /** Stops the timers and waits for runs under way, so none reads Redis after its connection closed. */
    async stop(): Promise<void> {
      for (const timer of timers.splice(0)) clearInterval(timer);
      await Promise.all(running.values());
    },
  };
}
