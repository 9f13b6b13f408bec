import type { Gauge } from 'prom-client';
import type { ConsumerState } from './gates.js';
import type { RedisClient } from './redis.js';
import { fieldsToRecord } from '../../schemas/fields.js';

export interface GroupBacklog {
  readonly handler: string;
  readonly stream: string;
  readonly group: string;
  readonly pending: number;
  /** Null when Redis cannot tell (after XDEL, or Redis < 7). */
  readonly lag: number | null;
}

/** Reads pending and lag of each stream gate's consumer group from XINFO GROUPS. */
export async function readBacklog(redis: RedisClient, consumers: readonly ConsumerState[]): Promise<GroupBacklog[]> {
  const groups = consumers.flatMap(({ handler, source, group }) => (group === undefined ? [] : [{ handler, stream: source, group }]));
  return Promise.all(
    groups.map(async ({ handler, stream, group }) => {
      const rows = (await redis.call('XINFO', 'GROUPS', stream)) as unknown[][];
      const info = rows.map((row) => fieldsToRecord(row.map(String))).find((row) => row.name === group);
      const lag = Number(info?.lag); // NaN where Redis sent nil, or the group is gone
      return { handler, stream, group, pending: Number(info?.pending ?? 0), lag: Number.isNaN(lag) ? null : lag };
    }),
  );
}

const BACKLOG_REFRESH_MS = 2000;

/** Refreshes the backlog into gauges and a snapshot, so /ready reads it synchronously and a slow XINFO never delays a probe. */
export function backlogMonitor(
  redis: RedisClient,
  consumers: () => readonly ConsumerState[],
  gauges: { pending: Gauge<'handler'>; lag: Gauge<'handler'> },
) {
  let latest: readonly GroupBacklog[] = [];
  let timer: NodeJS.Timeout | undefined;
  const refresh = async (): Promise<void> => {
    if (redis.status !== 'ready') return;
    latest = await readBacklog(redis, consumers());
    for (const b of latest) {
      gauges.pending.set({ handler: b.handler }, b.pending);
      if (b.lag !== null) gauges.lag.set({ handler: b.handler }, b.lag);
    }
  };
  return {
    get snapshot(): readonly GroupBacklog[] {
      return latest;
    },
    start(): void {
      const tick = () => void refresh().catch(() => undefined);
      tick();
      timer = setInterval(tick, BACKLOG_REFRESH_MS);
      timer.unref();
    },
    stop: () => clearInterval(timer),
  };
}

export type BacklogMonitor = ReturnType<typeof backlogMonitor>;
