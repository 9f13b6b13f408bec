import type { Redis } from 'ioredis';
import { streams } from '../schemas/keys.js';

export interface DecisionsSeenOptions {
  /** '0-0': every decision the streams hold; '$': those after the first read reaches Redis. */
  readonly from: '0-0' | '$';
  readonly blockMs: number;
  /** Read again while true. */
  readonly running: () => boolean;
  /** Each decision, its stream (the heat gate's or the governor's), plan_id and arrival (performance.now()). */
  readonly seen: (stream: string, planId: string, at: number) => void;
  /** Before each read: a bench that counts its own commands. */
  readonly beforeRead?: () => void;
}

/**
 * The heat gate's calibrated entries and the governor's events as an XREAD BLOCK client sees them:
 * what the benches time a decision to. Resolves once `running()` is false after a read.
 */
export async function decisionsSeen(observer: Redis, options: DecisionsSeenOptions): Promise<void> {
  const last: Record<string, string> = { [streams.harvestCalibrated]: options.from, [streams.governorEvents]: options.from };
  while (options.running()) {
    options.beforeRead?.();
    const reply = (await observer.xread(
      'COUNT',
      1000,
      'BLOCK',
      options.blockMs,
      'STREAMS',
      ...Object.keys(last),
      ...Object.values(last),
    )) as [string, [string, string[]][]][] | null;
    const at = performance.now();
    for (const [stream, entries] of reply ?? [])
      for (const [id, fields] of entries) {
        last[stream] = id;
        options.seen(stream, fields[fields.indexOf('plan_id') + 1]!, at);
      }
  }
}
