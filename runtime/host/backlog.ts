import type { Gauge } from 'prom-client';
import type { RedisClient } from './redis.js';

export interface GroupBacklog {
  readonly handler: string;
  readonly stream: string;
  readonly group: string;
  /** Entries delivered to a consumer and not yet acknowledged. */
  readonly pending: number;
  /** Entries not yet delivered to the group; null when Redis cannot tell (after XDEL, or Redis < 7). */
  readonly lag: number | null;
}

/** Reads pending and lag of each handler's consumer group from XINFO GROUPS. */
export async function readBacklog(
  redis: RedisClient,
  groups: readonly { handler: string; stream: string; group: string }[],
): Promise<GroupBacklog[]> {
  return Promise.all(
    groups.map(async ({ handler, stream, group }) => {
      const rows = (await redis.call('XINFO', 'GROUPS', stream)) as unknown[][];
      for (const row of rows) {
        const info = new Map<string, unknown>();
        for (let i = 0; i + 1 < row.length; i += 2) info.set(String(row[i]), row[i + 1]);
        if (info.get('name') !== group) continue;
        const lag = info.get('lag');
        return {
          handler,
          stream,
          group,
          pending: Number(info.get('pending') ?? 0),
          lag: lag === null || lag === undefined ? null : Number(lag),
        };
      }
      return { handler, stream, group, pending: 0, lag: null };
    }),
  );
}

/**
 * Refreshes the backlog every intervalMs into gauges and a snapshot for /ready, so readiness
 * stays a cheap synchronous read and a slow XINFO never delays a probe.
 */
export class BacklogMonitor {
  private latest: GroupBacklog[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly groups: () => readonly { handler: string; stream: string; group: string }[],
    private readonly gauges: { pending: Gauge<'handler'>; lag: Gauge<'handler'> },
    private readonly intervalMs = 2000,
  ) {}

  get snapshot(): readonly GroupBacklog[] {
    return this.latest;
  }

  start(): void {
    const tick = () => {
      this.refresh().catch(() => undefined);
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async refresh(): Promise<readonly GroupBacklog[]> {
    if (this.redis.status !== 'ready') return this.latest;
    this.latest = await readBacklog(this.redis, this.groups());
    for (const b of this.latest) {
      this.gauges.pending.set({ handler: b.handler }, b.pending);
      if (b.lag !== null) this.gauges.lag.set({ handler: b.handler }, b.lag);
    }
    return this.latest;
  }
}
