import { parseNumber } from '../../schemas/fields.js';
import type { Outcome } from '../../schemas/outcome.js';
import type { Horizon } from './horizons.js';

/**
 * One outcome entry from a follow-up record (the hash follow-up.ts writes, all strings) and what
 * the sample found. Shared by the sample job and by the follow-up, which records horizons already
 * past as missing.
 */
export function outcomeEntry(
  id: string,
  record: Readonly<Record<string, string | undefined>>,
  horizon: Horizon,
  sample: Pick<
    Outcome,
    | 'sampled_at'
    | 'price'
    | 'pnl_usd'
    | 'worst_pnl_usd'
    | 'sample_late'
    | 'missing_reason'
    | 'price_source'
    | 'price_at'
    | 'price_age_ms'
    | 'late_bound_sec'
  >,
): Outcome {
  const source = record.entry_source;
  return {
    decision_id: id,
    kind: record.kind ?? '',
    symbol: record.symbol ?? '',
    plan_id: record.plan_id ?? '',
    bucket: record.bucket ?? '',
    mode: record.mode ?? '',
    proposed_action: record.proposed_action ?? '',
    decided_action: record.decided_action ?? '',
    horizon: horizon.label,
    horizon_sec: horizon.ms / 1000,
    decided_at: parseNumber(record.decided_at) ?? 0,
    exposure_usd: parseNumber(record.exposure_usd) ?? 0,
    entry_price: parseNumber(record.entry_price) ?? 0,
    // A record written before these fields existed says nothing about them: unknown, not false.
    entry_source: source === 'decision' || source === 'follow_up' ? source : undefined,
    followed_at: parseNumber(record.followed_at),
    read_late: record.read_late === undefined ? undefined : record.read_late === '1',
    entry_price_source: record.entry_price_source || undefined,
    entry_price_at: parseNumber(record.entry_price_at),
    entry_price_age_ms: parseNumber(record.entry_price_age_ms),
    ...sample,
  };
}

/** Whether `readAt` is more than the bound after `standsFor`. */
export function isLate(readAt: number, standsFor: number, boundSec: number): boolean {
  return readAt - standsFor > boundSec * 1000;
}
