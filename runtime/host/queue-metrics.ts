import type { Queue } from 'bullmq';
import { withTimeout } from './redis.js';

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
  const exports = await Promise.all(queues.map((queue) => settledWithin(queue.exportPrometheusMetrics(), options.timeoutMs)));
  const families = new Map<string, Family>();
  const unavailable: string[] = [];
  exports.forEach((result, i) => {
    if (!result.ok) {
      unavailable.push(`# bullmq queue ${JSON.stringify(queues[i]!.name)}: metrics unavailable (${result.reason})`);
      return;
    }
    for (const line of result.value.split('\n')) addLine(families, line);
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
  if (line === '') return;
  const meta = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(.*)$/.exec(line);
  if (meta) {
    const family = familyOf(families, meta[2]!);
    if (meta[1] === 'HELP') family.help ??= meta[3]!;
    else family.type ??= meta[3]!;
    return;
  }
  if (line.startsWith('#')) return;
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (sample) familyOf(families, sample[1]!).samples.push(line);
}

function familyOf(families: Map<string, Family>, name: string): Family {
  let family = families.get(name);
  if (!family) families.set(name, (family = { help: undefined, type: undefined, samples: [] }));
  return family;
}

type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** `work` within `ms`, as a value or the reason it has none (an error, or no answer in time). */
function settledWithin<T>(work: Promise<T>, ms: number): Promise<Settled<T>> {
  return withTimeout(work, ms).then(
    (value): Settled<T> => ({ ok: true, value }),
    (error: unknown): Settled<T> => ({ ok: false, reason: (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ') }),
  );
}
