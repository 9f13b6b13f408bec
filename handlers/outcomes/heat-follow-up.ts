import { defineHandler } from '../../runtime/contract/index.js';
import { proposalSymbolSchema } from '../../schemas/harvest-proposal.js';
import { heatDecisionReader } from '../../schemas/heat-gate.js';
import type { OutcomeConfig } from './config.js';
import { followUpDeclaration, followUpId, recordFollowUp } from './follow-up.js';
import { readMarket } from './market.js';
import { keptExposure } from './pnl.js';

/**
 * A heat decision as schemas/heat-gate.ts reads it, with the symbols the heat gate decides (any
 * case, as the original: a lower-case one finds no market price and is skipped `no_price`).
 */
const heatDecisionInput = heatDecisionReader.extend({ symbol: proposalSymbolSchema });

/**
 * Follows every heat decision whose calibrated action differs from the proposal: in shadow mode
 * what enforce would have done, in enforce mode what it did. Reads the decisions the heat gate
 * already writes, so recording costs the heat gate nothing; the position and mark price are read
 * when the decision is read here, milliseconds after it was made.
 */
export const heatOutcomes = defineHandler({
  name: 'outcome-heat',
  description: 'Follows heat-gate downgrades to their counterfactual PnL at OUTCOME_HORIZONS',
  trigger: { kind: 'stream', stream: (c: OutcomeConfig) => c.P26_DECISION_STREAM, group: (c: OutcomeConfig) => c.OUTCOME_GROUP },
  input: heatDecisionInput,
  ...followUpDeclaration,
  async handle(decision, ctx) {
    const proposed = decision.in_action ?? '';
    const decided = decision.out_action ?? '';
    if (proposed === decided || proposed === '' || decided === '') return;
    const market = await readMarket(ctx.redis, decision.symbol, ctx.now());
    const skip = (reason: string) => ctx.metrics.skipped.inc({ kind: 'heat_downgrade', reason });
    if (market.markPrice === undefined) return skip('no_price');
    if (market.positionNotionalUsd === undefined) return skip('no_position');
    if (market.side === undefined) return skip('no_side');
    const exposure = keptExposure(proposed, decided, market.positionNotionalUsd, market.side);
    if (exposure === undefined) return skip('not_a_downgrade');
    await recordFollowUp(ctx, followUpId('heat_downgrade', ctx.meta.id), {
      kind: 'heat_downgrade',
      symbol: decision.symbol,
      plan_id: decision.plan_id,
      // heat_level is the bucket in lower case (the original heat gate's words); outcomes name buckets as the calibrated stream does.
      bucket: (decision.heat_level ?? '').toUpperCase(),
      mode: decision.mode ?? '',
      proposed_action: proposed,
      decided_action: decided,
      exposure_usd: String(exposure),
      entry_price: String(market.markPrice),
      decided_at: String(ctx.meta.producedAt),
    });
  },
});
