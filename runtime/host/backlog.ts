import type { Queue } from 'bullmq';
import type { Gauge } from 'prom-client';
import { withTimeout, type RedisClient } from './redis.js';

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
  private latest: readonly GroupBacklog[] = [];
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
    const tick = () => void this.refresh().catch(() => undefined);
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async refresh(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    this.latest = await readBacklog(this.redis, this.groups());
    for (const b of this.latest) {
      this.gauges.pending.set({ handler: b.handler }, b.pending);
      if (b.lag !== null) this.gauges.lag.set({ handler: b.handler }, b.lag);
    }
  }
}

/** A queue as far as its metrics go. */
export type MetricsQueue = Pick<Queue, 'name' | 'exportPrometheusMetrics'>;

export interface QueueMetricsOptions {
  /** Whether the registry already exposes a family of that name: such a family is left out. */
  readonly registered: (family: string) => boolean;
  /** A queue that has not answered by then is left out of this scrape (its Redis may be down). */
  readonly timeoutMs: number;
}

interface Family {
  help: string | undefined;
  type: string | undefined;
  readonly samples: string[];
}

/**
 * BullMQ's own metrics (Queue.exportPrometheusMetrics: bullmq_job_count by state, and the
 * completed and failed totals the workers record) for every queue, as one block of Prometheus
 * text to append to /metrics. Each queue's export repeats the HELP and TYPE lines, which
 * Prometheus refuses ("second HELP line"), so the families are merged: one HELP, one TYPE, then
 * every queue's samples together. A queue that cannot answer in time leaves a comment instead of
 * holding up the scrape, whose runtime metrics (quantum_gates_redis_up) matter most just then.
 */
export async function queueMetricsText(queues: readonly MetricsQueue[], options: QueueMetricsOptions): Promise<string> {
  const families = new Map<string, Family>();
  const unavailable: string[] = [];
  const exports = await Promise.allSettled(queues.map((queue) => withTimeout(queue.exportPrometheusMetrics(), options.timeoutMs)));
  exports.forEach((result, i) => {
    if (result.status === 'fulfilled') {
      for (const line of result.value.split('\n')) addLine(families, line);
      return;
    }
    const reason = (result.reason instanceof Error ? result.reason.message : String(result.reason)).replace(/\s+/g, ' ');
    unavailable.push(`# bullmq queue ${JSON.stringify(queues[i]!.name)}: metrics unavailable (${reason})`);
  });
  const lines: string[] = [];
  for (const [name, family] of families) {
    if (options.registered(name)) continue;
    if (family.help !== undefined) lines.push(`# HELP ${name} ${family.help}`);
    if (family.type !== undefined) lines.push(`# TYPE ${name} ${family.type}`);
    lines.push(...family.samples);
  }
  lines.push(...unavailable);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function addLine(families: Map<string, Family>, raw: string): void {
  const line = raw.trim();
  const meta = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(.*)$/.exec(line);
  const name = meta ? meta[2]! : /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)?.[1];
  if (name === undefined) return; // blank lines, other comments
  let family = families.get(name);
  if (!family) families.set(name, (family = { help: undefined, type: undefined, samples: [] }));
  if (meta?.[1] === 'HELP') family.help ??= meta[3]!;
  else if (meta) family.type ??= meta[3]!;
  else family.samples.push(line);
}
