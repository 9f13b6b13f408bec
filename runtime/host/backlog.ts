import type { Queue } from 'bullmq';
import type { Gauge } from 'prom-client';
import type { ConsumerState } from './gates.js';
import { withTimeout, type RedisClient } from './redis.js';

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

export type MetricsQueue = Pick<Queue, 'name' | 'exportPrometheusMetrics'>;

/**
 * Every queue's exportPrometheusMetrics() as one block for /metrics, families merged (Prometheus
 * refuses a second HELP line) and those the registry has left out. A queue that cannot answer in
 * `timeoutMs` leaves a comment rather than hold up the scrape, when quantum_gates_redis_up matters.
 */
export async function queueMetricsText(
  queues: readonly MetricsQueue[],
  options: { readonly registered: (family: string) => boolean; readonly timeoutMs: number },
): Promise<string> {
  const families = new Map<string, string[]>();
  const unavailable: string[] = [];
  const exports = await Promise.allSettled(queues.map((queue) => withTimeout(queue.exportPrometheusMetrics(), options.timeoutMs)));
  exports.forEach((result, i) => {
    if (result.status === 'rejected') {
      const reason = (result.reason instanceof Error ? result.reason.message : String(result.reason)).replace(/\s+/g, ' ');
      unavailable.push(`# bullmq queue ${JSON.stringify(queues[i]!.name)}: metrics unavailable (${reason})`);
      return;
    }
    for (const line of result.value.split('\n')) {
      const name = /^(?:# (?:HELP|TYPE) )?([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)?.[1];
      if (name === undefined || options.registered(name)) continue; // blank lines, other comments
      let family = families.get(name);
      if (!family) families.set(name, (family = []));
      if (!line.startsWith('#') || !family.includes(line)) family.push(line);
    }
  });
  const lines = [...[...families.values()].flat(), ...unavailable];
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
