import type { AnyHandler } from '../contract/handler.js';
import type { Logger } from '../contract/logger.js';
import type { RedisReader } from '../contract/redis-reader.js';

export interface HostedRefresh {
  readonly handler: AnyHandler;
  readonly config: unknown;
  readonly metrics: object;
}

/**
 * Runs every gate's `batch.refresh` at start and every `everyMs`, in this process: gauges each
 * replica publishes itself (a BullMQ job would run in one replica). A run is never doubled.
 */
export class PeriodicRefresh {
  private readonly timers: NodeJS.Timeout[] = [];
  /** The run under way per gate: one at a time, and awaited by stop(). */
  private readonly running = new Map<HostedRefresh, Promise<void>>();

  constructor(
    private readonly gates: readonly HostedRefresh[],
    private readonly redis: RedisReader,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  start(): void {
    for (const gate of this.gates) {
      const { refresh, loadState } = gate.handler.batch ?? {};
      if (refresh === undefined || loadState === undefined) continue;
      let applied = false;
      const tick = (): void => {
        if (this.running.has(gate)) return;
        const run = loadState(this.redis, gate.config, this.now())
          .then((state) => {
            refresh.apply(state, gate.metrics, gate.config, { first: !applied });
            applied = true;
          })
          .catch((error: unknown) => this.logger.warn({ err: error, handler: gate.handler.name }, 'refresh failed; the next run retries'))
          .finally(() => this.running.delete(gate));
        this.running.set(gate, run);
      };
      tick();
      const timer = setInterval(tick, refresh.everyMs(gate.config));
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** Stops the timers and waits for runs under way, so none reads Redis after its connection closed. */
  async stop(): Promise<void> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await Promise.all(this.running.values());
  }
}
