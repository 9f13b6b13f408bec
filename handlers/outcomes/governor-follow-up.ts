import * as z from 'zod';
import { defineHandler } from '../../runtime/contract/index.js';
import { parseNumber } from '../../schemas/fields.js';
import { parseGovernorEvent } from '../../schemas/governor-event.js';
import type { OutcomeConfig } from './config.js';
import { entryFields, followUpDeclaration, followUpId, readingOf, recordFollowUp, type OutcomeCtx } from './follow-up.js';
import { readMark } from './market.js';
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
  mark_price: text,
  mark_source: text,
  mark_at: text,
  mark_age_ms: text,
});

/**
 * Follows every open the governor blocked: the PnL the open would have made, counted as the
 * difference the block made (its negative). Reads the governor's events stream, so recording
 * costs the governor nothing. Every open it permitted is followed too, as `governor_permit`:
 * the open's own PnL, what a tighter cap that blocked it would have given up (`report calibrate`;
 * the outcomes figures leave these out, since a permit changed nothing). The entry price is the
 * mark the governor priced the open at (`mark_price` of its event, with its source, time and age:
 * `mark_source`, `mark_at`, `mark_age_ms`); from an event without one it is read when the event
 * is read here, and a read later than OUTCOME_LATE_SEC is said (read_late).
 */
export const governorOutcomes = defineHandler({
  name: 'outcome-governor',
  description: 'Follows governor blocks (and permits) of opens to the PnL the open would have made at OUTCOME_HORIZONS',
  trigger: { kind: 'stream', stream: (c: OutcomeConfig) => c.STREAM_EVENTS, group: (c: OutcomeConfig) => c.OUTCOME_GROUP },
  input: governorEventInput,
  ...followUpDeclaration('governor_block'),
  async handle(_entry, ctx: OutcomeCtx) {
    // The wire schema decides what a block is: a renamed field is a type error here, not a skip.
    const event = parseGovernorEvent(ctx.meta.raw);
    if (event === undefined || (event.event !== 'block' && event.event !== 'permit') || event.kind !== 'open') return;
    if (!event.symbol || !event.plan_id) return;
    const { symbol, plan_id: planId } = event;
    const kind = event.event === 'block' ? 'governor_block' : 'governor_permit';
    const skip = (reason: string) => ctx.metrics.skipped.inc({ kind, reason });
    const side = sideSign(event.side);
    const reading = readingOf(ctx);
    if (side === undefined) return skip('no_side');
    const recorded = parseNumber(event.mark_price);
    const atDecision = recorded !== undefined && recorded > 0 ? recorded : undefined;
    const read = atDecision === undefined ? await readMark(ctx.redis, symbol, reading.followedAt, ctx.config, ctx) : undefined;
    const mark = atDecision ?? read?.price;
    const readAt = read?.asOfMs;
    // The quote the entry price is: the one the governor recorded with its mark (an event of an
    // earlier release names none: unknown), else the one read here, aged at the reading.
    const quote =
      atDecision !== undefined
        ? { source: event.mark_source || undefined, at: parseNumber(event.mark_at), ageMs: parseNumber(event.mark_age_ms) }
        : { source: read?.source, at: readAt, ageMs: readAt === undefined ? undefined : Math.max(0, reading.followedAt - readAt) };
    if (mark === undefined) return skip('no_price');
    const notional = parseNumber(event.computed_notional);
    const qty = parseNumber(event.computed_qty);
    const sized = notional !== undefined && notional > 0 ? notional : qty !== undefined && qty > 0 ? qty * mark : undefined;
    if (sized === undefined) return skip('unpriced');
    recordFollowUp(ctx, followUpId(kind, ctx.meta.id), {
      kind,
      symbol,
      plan_id: planId,
      bucket: '',
      mode: 'enforce',
      proposed_action: event.action ?? '',
      decided_action: kind === 'governor_block' ? 'BLOCK' : 'PERMIT',
      // Decision minus proposal: the block holds none of the exposure the open would have taken.
      // A permit's is the open's own exposure: what blocking it would have kept out (report calibrate).
      exposure_usd: String(kind === 'governor_block' ? -sized * side : sized * side),
      entry_price: String(mark),
      ...entryFields(ctx, reading, atDecision !== undefined, quote),
    });
  },
});
