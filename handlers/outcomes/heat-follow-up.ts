import { defineHandler } from '../../runtime/contract/index.js';
import { proposalSymbolSchema } from '../../schemas/harvest-proposal.js';
import { heatDecisionReader } from '../../schemas/heat-gate.js';
import type { OutcomeConfig } from './config.js';
import { entryFields, followUpDeclaration, followUpId, readingOf, recordFollowUp, type OutcomeCtx } from './follow-up.js';
import { readMarket } from './market.js';
import { keptExposure } from './pnl.js';

/**
 * A heat decision as schemas/heat-gate.ts reads it, with the symbols the heat gate decides (any
 * case, as the original: a lower-case one finds no market price and is skipped `no_price`).
 */
const heatDecisionInput = heatDecisionReader.extend({ symbol: proposalSymbolSchema });

/** What the heat gate recorded at decision time in debug_json (handlers/heat-gate/outputs.ts), when it did. */
export interface RecordedAtDecision {
  /** null: the gate found no price fresh enough. */
  readonly mark: number | null;
  /** Signed (long +); undefined: the symbol had no position in the gate's book. */
  readonly positionUsd: number | undefined;
  /** The mark's source, time (ms) and age at the decision (ms), when recorded. */
  readonly markSource: string | undefined;
  readonly markAt: number | undefined;
  readonly markAgeMs: number | undefined;
}

const finite = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** The decision's own mark and position; undefined when debug_json carries none (another producer, an earlier version, a cut JSON). */
export function recordedAtDecision(debugJson: string | undefined): RecordedAtDecision | undefined {
  if (debugJson === undefined || !debugJson.includes('"mark"')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(debugJson);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || !('mark' in parsed)) return undefined;
  const o = parsed as Record<string, unknown>;
  const mark = o.mark === null ? null : finite(o.mark);
  if (mark === undefined || (mark !== null && mark <= 0)) return undefined;
  const position = finite(o.position_usd);
  return {
    mark,
    positionUsd: position === 0 ? undefined : position,
    markSource: typeof o.mark_source === 'string' ? o.mark_source : undefined,
    markAt: finite(o.mark_at),
    markAgeMs: finite(o.mark_age_ms),
  };
}

/**
 * Follows every heat decision whose calibrated action differs from the proposal: in shadow mode
 * what enforce would have done, in enforce mode what it did. Reads the decisions the heat gate
 * already writes, so recording costs the heat gate nothing. The mark and position are the ones the
 * heat gate recorded with the decision; from a producer that records none, they are read when the
 * decision is read here, and a read later than OUTCOME_LATE_SEC is said (read_late).
 */
export const heatOutcomes = defineHandler({
  name: 'outcome-heat',
  description: 'Follows heat-gate downgrades to their counterfactual PnL at OUTCOME_HORIZONS',
  trigger: { kind: 'stream', stream: (c: OutcomeConfig) => c.P26_DECISION_STREAM, group: (c: OutcomeConfig) => c.OUTCOME_GROUP },
  input: heatDecisionInput,
  ...followUpDeclaration('heat_downgrade'),
  async handle(decision, ctx: OutcomeCtx) {
    const proposed = decision.in_action ?? '';
    const decided = decision.out_action ?? '';
    if (proposed === decided || proposed === '' || decided === '') return;
    const reading = readingOf(ctx);
    const skip = (reason: string) => ctx.metrics.skipped.inc({ kind: 'heat_downgrade', reason });
    const recorded = recordedAtDecision(decision.debug_json);
    let entryPrice: number | undefined;
    let notional: number | undefined;
    let side: 1 | -1 | undefined;
    let quote: { source?: string | undefined; at?: number | undefined; ageMs?: number | undefined } = {};
    if (recorded !== undefined) {
      entryPrice = recorded.mark ?? undefined;
      quote = { source: recorded.markSource, at: recorded.markAt, ageMs: recorded.markAgeMs };
      notional = recorded.positionUsd === undefined ? undefined : Math.abs(recorded.positionUsd);
      side = recorded.positionUsd === undefined ? undefined : recorded.positionUsd > 0 ? 1 : -1;
    } else {
      const market = await readMarket(ctx.redis, decision.symbol, reading.followedAt, ctx.config, ctx);
      entryPrice = market.mark?.price;
      const at = market.mark?.asOfMs;
      quote = { source: market.mark?.source, at, ageMs: at === undefined ? undefined : Math.max(0, reading.followedAt - at) };
      notional = market.positionNotionalUsd;
      side = market.side;
    }
    if (entryPrice === undefined) return skip('no_price');
    if (notional === undefined) return skip('no_position');
    if (side === undefined) return skip('no_side');
    const exposure = keptExposure(proposed, decided, notional, side);
    if (exposure === undefined) return skip('not_a_downgrade');
    recordFollowUp(ctx, followUpId('heat_downgrade', ctx.meta.id), {
      kind: 'heat_downgrade',
      symbol: decision.symbol,
      plan_id: decision.plan_id,
      // heat_level is the bucket in lower case (the original heat gate's words); outcomes name buckets as the calibrated stream does.
      bucket: (decision.heat_level ?? '').toUpperCase(),
      mode: decision.mode ?? '',
      proposed_action: proposed,
      decided_action: decided,
      exposure_usd: String(exposure),
      entry_price: String(entryPrice),
      ...entryFields(ctx, reading, recorded !== undefined, quote),
    });
  },
});
