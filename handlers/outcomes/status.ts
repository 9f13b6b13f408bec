import { blockInterval } from '../../domain/time-blocks.js';
import { defineStatusSection } from '../../runtime/contract/index.js';
import { fieldsToRecord } from '../../schemas/fields.js';
import { streams } from '../../schemas/keys.js';
import { outcomeEntrySchema } from '../../schemas/outcome.js';
import type { OutcomeConfig } from './config.js';
import { REFERENCE_KINDS } from './follow-up.js';

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
  /** What the report's interval would warn of, in words (few blocks of time, one symbol, symbols that move together); null: nothing. */
  readonly warning: string | null;
}

/** Outcome samples read for the cumulative PnL chart. */
export const OUTCOME_SAMPLES = 1000;

export const outcomesSection = defineStatusSection<OutcomeConfig, OutcomesStatus>({
  key: 'outcomes',
  title: 'Outcomes of the decisions',
  order: 30,
  // The page's chart; `quantum-gates report outcomes` has them in full in the terminal.
  views: [
    {
      shape: 'sentence',
      only: 'page',
      unless: [{ when: { horizon: null }, say: 'No outcome samples yet (docs/outcomes.md).' }],
      parts: [
        { key: 'samples' },
        ' decisions at ',
        { key: 'horizon' },
        ': against their proposals they changed PnL by ',
        { key: 'total_pnl_usd', format: 'dollars' },
        { key: 'missing_price', before: ' (', after: ' without a price left out)', skipZero: true },
        '. quantum-gates report outcomes has the intervals.',
        { key: 'warning', before: ' Mind: ', after: '.' },
      ],
    },
    {
      shape: 'series',
      only: 'page',
      points: 'series',
      x: 'at',
      y: 'cumulative_usd',
      yFormat: 'dollars',
      mark: 'steps',
      from: 0,
      name: 'PnL',
      label: 'Cumulative counterfactual PnL',
      pointsAre: 'decisions',
      caption:
        "Running sum of each followed decision's counterfactual PnL against its proposal (`quantum:stream:gates.outcome`), at the longest horizon sampled.",
    },
  ],
  async read(ctx) {
    // OUTCOME_STREAM as the process's environment has it, whichever process follows the decisions.
    const stream = ctx.env.OUTCOME_STREAM?.trim() || streams.gatesOutcome;
    const entries = await ctx.read('outcomes', () => ctx.redis.xrevrange(stream, '+', '-', 'COUNT', OUTCOME_SAMPLES));
    return entries === null ? null : outcomesStatus(entries);
  },
});

/** Builds the section from the newest entries of the outcome stream (newest first, as XREVRANGE returns them). */
export function outcomesStatus(newestFirst: readonly [string, string[]][]): OutcomesStatus {
  const samples = newestFirst.flatMap(([, fields]) => {
    const parsed = outcomeEntrySchema.safeParse(fieldsToRecord(fields));
    // A permitted open is followed for report calibrate only: it changed nothing.
    return parsed.success && !REFERENCE_KINDS.has(parsed.data.kind) ? [parsed.data] : [];
  });
  const longest = samples.reduce<{ horizon: string; sec: number } | null>(
    (best, s) => (best === null || s.horizon_sec > best.sec ? { horizon: s.horizon, sec: s.horizon_sec } : best),
    null,
  );
  if (longest === null) return { horizon: null, samples: 0, missing_price: 0, total_pnl_usd: 0, series: [], warning: null };
  const atHorizon = samples.filter((s) => s.horizon === longest.horizon).sort((a, b) => a.decided_at - b.decided_at);
  let sum = 0;
  const series = atHorizon.flatMap((s) => {
    if (s.pnl_usd === undefined) return [];
    sum = Math.round((sum + s.pnl_usd) * 100) / 100;
    return [{ at: s.decided_at, cumulative_usd: sum }];
  });
  const priced = atHorizon.flatMap((s) =>
    s.pnl_usd === undefined ? [] : [{ at: s.decided_at, horizonMs: s.horizon_sec * 1000, symbol: s.symbol, pnlUsd: s.pnl_usd }],
  );
  const { warnings } = blockInterval(priced);
  return {
    horizon: longest.horizon,
    samples: atHorizon.length,
    missing_price: atHorizon.length - series.length,
    total_pnl_usd: sum,
    series,
    warning: warnings.length === 0 ? null : warnings.join('; '),
  };
}
