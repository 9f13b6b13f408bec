/**
 * The intent bridge (microservices/intent_bridge/main.py): turns a trade.intent into an open plan
 * on quantum:stream:apply.plan (no MAXLEN). Seed era: 2a52d5b45 (the version at the seed
 * commits), `_make_plan_id` lines 112-115 and `_publish_plan` lines 205-226: plan_id, decision
 * EXECUTE, symbol, side BUY/SELL, type, qty (str(float)), reduceOnly, source, signature, timestamp;
 * no action, no price. Newest: 73fab1f55 lines 537-540 and 772-872: the same fields, then action
 * (ENTRY_PROPOSED for an open, lines 793-800), leverage when given, entry_price f"{:.8f}" and a buy's breakeven_price.
 */
import { createHash } from 'node:crypto';
import { epochSec, pyInt, pyStr, xaddMaxlen, type Era, type ProducerRedis } from './upstream.js';

export interface Intent {
  readonly symbol: string;
  readonly side: 'BUY' | 'SELL';
  readonly qty: number;
  readonly leverage?: number;
  readonly entryPrice?: number;
}

/** sha256(f"{stream_id}|{symbol}|{side}|{qty}")[:16], qty as str(float). */
export function intentBridgePlanId(intentStreamId: string, i: Intent): string {
  return createHash('sha256')
    .update(`${intentStreamId}|${i.symbol}|${i.side}|${pyStr(i.qty)}`)
    .digest('hex')
    .slice(0, 16);
}

export async function publishIntentBridgePlan(
  redis: ProducerRedis,
  era: Era,
  intentStreamId: string,
  i: Intent,
  nowMs: number,
): Promise<{ id: string; planId: string; fields: Record<string, string> }> {
  const planId = intentBridgePlanId(intentStreamId, i);
  const fields: Record<string, string> = {
    plan_id: planId,
    decision: 'EXECUTE',
    symbol: i.symbol,
    side: i.side,
    type: 'MARKET',
    qty: pyStr(i.qty),
    reduceOnly: 'false',
    source: 'intent_bridge',
    signature: 'intent_bridge',
    timestamp: pyInt(epochSec(nowMs)),
  };
  if (era === 'newest') {
    fields.action = 'ENTRY_PROPOSED';
    if (i.leverage !== undefined) fields.leverage = pyInt(i.leverage);
    if (i.entryPrice !== undefined && i.entryPrice > 0) {
      fields.entry_price = i.entryPrice.toFixed(8);
      // A buy's breakeven only (lines 845-847); ROUND_TRIP_COST = TAKER_FEE_RATE * 2 + 0.0002 (lines 105-106).
      if (i.side === 'BUY') fields.breakeven_price = (i.entryPrice * (1 + (0.0004 * 2 + 0.0002))).toFixed(8);
    }
  }
  const id = await xaddMaxlen(redis, 'quantum:stream:apply.plan', fields);
  return { id, planId, fields };
}
