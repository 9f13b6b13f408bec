import { SHADOW_OUTCOMES } from '../../app/cli-door.js';
import { fieldsToRecord } from '../../schemas/fields.js';
import { streams } from '../../schemas/keys.js';
import { outcomeEntrySchema, type Outcome } from '../../schemas/outcome.js';
import { horizonsOf } from '../report/calibrate.js';
import type { Pair } from './pair.js';
import { priceDifferences, pricedKind, type PricedDifference } from './price.js';
import type { ShadowReader } from './reader.js';
import { streamEntries } from './stream-entries.js';

/** Where the outcome follow-ups write, and the horizons they sample at (OUTCOME_STREAM, OUTCOME_HORIZONS). */
export interface PricingSource {
  readonly stream: string;
  readonly horizons: readonly { readonly label: string; readonly ms: number }[];
}

export const DEFAULT_PRICING: PricingSource = {
  stream: streams.gatesOutcome,
  horizons: [
    { label: '5m', ms: 300_000 },
    { label: '1h', ms: 3_600_000 },
    { label: '4h', ms: 14_400_000 },
  ],
};

/** The outcome samples of decisions made from `fromMs` on (a sample is written after its decision); unreadable entries are left out. */
export async function readOutcomeSamples(redis: ShadowReader, stream: string, fromMs: number): Promise<Outcome[]> {
  const samples: Outcome[] = [];
  for await (const [, fields] of streamEntries(redis, stream, `${fromMs}-0`)) {
    const parsed = outcomeEntrySchema.safeParse(fieldsToRecord(fields));
    if (parsed.success && parsed.data.decided_at >= fromMs) samples.push(parsed.data);
  }
  return samples;
}

/**
 * The verdict differences priced, from the samples of the shadow's own decisions (SHADOW_OUTCOMES)
 * and of the incumbent's (the outcome stream); both are read only when a difference changes exposure.
 */
export async function pricePairs(
  redis: ShadowReader,
  pairs: readonly Pair[],
  fromMs: number,
  source: PricingSource,
): Promise<PricedDifference[]> {
  if (!pairs.some((pair) => pricedKind(pair) !== undefined)) return [];
  const samples = await readOutcomeSamples(redis, source.stream, fromMs);
  const own = await readOutcomeSamples(redis, SHADOW_OUTCOMES, fromMs);
  return priceDifferences(pairs, samples, horizonsOf([...samples, ...own], source.horizons), own);
}
