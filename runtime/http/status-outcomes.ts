import { outcomeEntrySchema } from '../../schemas/outcome.js';
import { fieldsToRecord } from '../../schemas/fields.js';

/** The status page's outcomes section: cumulative counterfactual PnL over time at one horizon. */
export interface OutcomesStatus {
  /** The longest horizon among the samples read (the one the chart shows). */
  readonly horizon: string | null;
  readonly samples: number;
  /** Samples at that horizon without a price (left out of the sum). */
  readonly missing_price: number;
  readonly total_pnl_usd: number;
  /** Oldest first: each priced sample's decision time and the running sum after it. */
  readonly series: readonly { readonly at: number; readonly cumulative_usd: number }[];
}

/** Builds the section from the newest entries of the outcome stream (newest first, as XREVRANGE returns them). */
export function outcomesStatus(newestFirst: readonly [string, string[]][]): OutcomesStatus {
  const samples = newestFirst.flatMap(([, fields]) => {
    const parsed = outcomeEntrySchema.safeParse(fieldsToRecord(fields));
    return parsed.success ? [parsed.data] : [];
  });
  const longest = samples.reduce<{ horizon: string; sec: number } | null>(
    (best, s) => (best === null || s.horizon_sec > best.sec ? { horizon: s.horizon, sec: s.horizon_sec } : best),
    null,
  );
  if (longest === null) return { horizon: null, samples: 0, missing_price: 0, total_pnl_usd: 0, series: [] };
  const atHorizon = samples.filter((s) => s.horizon === longest.horizon).sort((a, b) => a.decided_at - b.decided_at);
  let sum = 0;
  const series = atHorizon.flatMap((s) => {
    if (s.pnl_usd === undefined) return [];
    sum = Math.round((sum + s.pnl_usd) * 100) / 100;
    return [{ at: s.decided_at, cumulative_usd: sum }];
  });
  return {
    horizon: longest.horizon,
    samples: atHorizon.length,
    missing_price: atHorizon.length - series.length,
    total_pnl_usd: sum,
    series,
  };
}
