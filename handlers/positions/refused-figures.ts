import type { CounterMetric, Logger } from '../../runtime/contract/index.js';
import type { RefusedFigure } from './book.js';

/** Where a gate counts and logs the position figures its book refused. */
export interface RefusedFigureSink {
  readonly log: Logger;
  readonly metrics: { readonly figuresRefused: CounterMetric<'source' | 'reason'> };
}

/**
 * Counts every refused figure a decision meets, and logs each (source, symbol, reason) once while
 * it lasts: a book read for every plan would otherwise repeat the same line hundreds of times a
 * second. A refusal no longer met is forgotten, so its return is logged again.
 */
export class RefusedFigureNotes {
  private readonly logged = new Set<string>();

  note(refused: readonly RefusedFigure[], ctx: RefusedFigureSink): void {
    const met = new Set<string>();
    for (const r of refused) {
      ctx.metrics.figuresRefused.inc({ source: r.source, reason: r.reason });
      const id = `${r.source}\u0000${r.symbol}\u0000${r.reason}`;
      met.add(id);
      if (this.logged.has(id)) continue;
      this.logged.add(id);
      ctx.log.warn(
        { symbol: r.symbol, source: r.source, reason: r.reason, key: r.key, ...(r.aheadMs === undefined ? {} : { ahead_ms: r.aheadMs }) },
        "figure refused (stamped ahead beyond PRICE_MAX_SKEW_SEC, no number, or unreadable): not used until its producer writes a usable one; a position's symbol counts as of unknown size, never flat",
      );
    }
    for (const id of this.logged) if (!met.has(id)) this.logged.delete(id);
  }
}
