import * as z from 'zod';
import { defineHandler } from '../../runtime/contract/index.js';
import { parseNumber } from '../../schemas/fields.js';
import { parseGovernorEvent } from '../../schemas/governor-event.js';
import type { OutcomeConfig } from './config.js';
import { followUpDeclaration, followUpId, recordFollowUp } from './follow-up.js';
import { readMarket } from './market.js';
import { sideSign } from './pnl.js';

const text = z.string().max(10_000).optional();

/** The fields of a governor event the follow-up reads. */
const governorEventInput = z.looseObject({
  event: text,
  plan_id: text,
  symbol: text,
  kind: text,
  action: text,
  side: text,
  computed_qty: text,
  computed_notional: text,
});

/**
 * Follows every open the governor blocked: the PnL the open would have made, counted as the
 * difference the block made (its negative). Reads the governor's events stream, so recording
 * costs the governor nothing.
 */
export const governorOutcomes = defineHandler({
  name: 'outcome-governor',
  description: 'Follows governor blocks of opens to the PnL the open would have made at OUTCOME_HORIZONS',
  trigger: { kind: 'stream', stream: (c: OutcomeConfig) => c.STREAM_EVENTS, group: (c: OutcomeConfig) => c.OUTCOME_GROUP },
  input: governorEventInput,
  ...followUpDeclaration,
  async handle(_entry, ctx) {
    // The wire schema decides what a block is: a renamed field is a type error here, not a skip.
    const event = parseGovernorEvent(ctx.meta.raw);
    if (event === undefined || event.event !== 'block' || event.kind !== 'open' || !event.symbol || !event.plan_id) return;
    const skip = (reason: string) => ctx.metrics.skipped.inc({ kind: 'governor_block', reason });
    const side = sideSign(event.side);
    if (side === undefined) return skip('no_side');
    const market = await readMarket(ctx.redis, event.symbol, ctx.now());
    if (market.markPrice === undefined) return skip('no_price');
    const notional = parseNumber(event.computed_notional);
    const qty = parseNumber(event.computed_qty);
    const sized = notional !== undefined && notional > 0 ? notional : qty !== undefined && qty > 0 ? qty * market.markPrice : undefined;
    if (sized === undefined) return skip('unpriced');
    await recordFollowUp(ctx, followUpId('governor_block', ctx.meta.id), {
      kind: 'governor_block',
      symbol: event.symbol,
      plan_id: event.plan_id,
      bucket: '',
      mode: 'enforce',
      proposed_action: event.action ?? '',
      decided_action: 'BLOCK',
      // Decision minus proposal: the block holds none of the exposure the open would have taken.
      exposure_usd: String(-sized * side),
      entry_price: String(market.markPrice),
      decided_at: String(ctx.meta.producedAt),
    });
  },
});
