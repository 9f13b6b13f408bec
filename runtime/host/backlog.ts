import type { Gauge } from 'prom-client';
import type { ConsumerState } from './gates.js';
import type { RedisClient } from './redis.js';
import type { Clock } from '../engine/clock.js';
import { fieldsToRecord } from '../../schemas/fields.js';

/** Pending and lag of each stream gate's consumer group, from XINFO GROUPS. */
export async function readBacklog(redis: RedisClient, consumers: readonly ConsumerState[]) {
  const groups = consumers.flatMap(({ handler, source, group }) => (group === undefined ? [] : [{ handler, stream: source, group }]));
  return Promise.all(
    groups.map(async ({ handler, stream, group }) => {
      const rows = (await redis.call('XINFO', 'GROUPS', stream)) as unknown[][];
      const info = rows.map((row) => fieldsToRecord(row.map(String))).find((row) => row.name === group);
      // Null when Redis cannot tell (after XDEL, or Redis < 7: nil, NaN here) or the group is gone.
      const lag = Number(info?.lag);
      return { handler, stream, group, pending: Number(info?.pending ?? 0), lag: Number.isNaN(lag) ? null : lag };
    }),
  );
}

export type GroupBacklog = Awaited<ReturnType<typeof readBacklog>>[number];

const BACKLOG_REFRESH_MS = 2000;

/** Refreshes the backlog into gauges and a snapshot, so /ready reads it synchronously and a slow XINFO never delays a probe. */
export function backlogMonitor(
  redis: RedisClient,
  consumers: () => readonly ConsumerState[],
  gauges: { pending: Gauge<'handler'>; lag: Gauge<'handler'> },
  clock: Clock,
) {
  let latest: readonly GroupBacklog[] = [];
  let stop = (): void => undefined;
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
      stop = clock.every(BACKLOG_REFRESH_MS, tick);
    },
    stop: () => stop(),
  };
}

export type BacklogMonitor = ReturnType<typeof backlogMonitor>;
