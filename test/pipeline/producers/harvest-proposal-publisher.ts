/**
 * The harvest proposal publisher, P2.5 (microservices/harvest_proposal_publisher/main.py) with
 * the Harvest Kernel (ai_engine/risk_kernel_harvest.py). `publish_proposal` writes the same
 * fields in both eras: seed 98398629a lines 337-373, newest 73fab1f55 lines 393-429. HSET
 * quantum:harvest:proposal:{symbol} (no TTL), and with ENABLE_STREAM XADD
 * quantum:stream:harvest.proposal {symbol, **fields} MAXLEN ~ 10000. No plan_id, action or
 * trace_id. harvest_action is NONE, PARTIAL_25/50/75 or FULL_CLOSE_PROPOSED (kernel, 98398629a
 * lines 148-155 and 285), never FULL_CLOSE.
 */
import { epochSec, hsetMapping, pyInt, pyStr, pyUtcIsoformat, xaddMaxlen, type ProducerRedis } from './upstream.js';

export type HarvestAction = 'NONE' | 'PARTIAL_25' | 'PARTIAL_50' | 'PARTIAL_75' | 'FULL_CLOSE_PROPOSED';

export interface KernelProposal {
  readonly harvestAction: HarvestAction;
  readonly killScore: number;
  /** None when the kernel proposes no stop (str(None) is written). */
  readonly newSlProposed?: number;
  readonly rNet: number;
  readonly reasonCodes: readonly string[];
  readonly k?: { readonly regimeFlip: number; readonly sigmaSpike: number; readonly tsDrop: number; readonly agePenalty: number };
  readonly sigma: number;
  readonly positionSide: 'LONG' | 'SHORT';
  readonly entryPrice: number;
  readonly currentPrice: number;
}

/** The fields of one proposal, in the publisher's order (the hash's; the stream entry puts symbol first). */
export function proposalFields(p: KernelProposal, nowMs: number): Record<string, string> {
  const k = p.k ?? { regimeFlip: 0, sigmaSpike: 0, tsDrop: 0, agePenalty: 0 };
  return {
    harvest_action: p.harvestAction,
    new_sl_proposed: p.newSlProposed === undefined ? 'None' : pyStr(p.newSlProposed),
    R_net: pyStr(p.rNet),
    risk_unit: pyStr(0.02),
    cost_est: pyStr(0.001),
    kill_score: pyStr(p.killScore),
    reason_codes: p.reasonCodes.join(','),
    k_regime_flip: pyStr(k.regimeFlip),
    k_sigma_spike: pyStr(k.sigmaSpike),
    k_ts_drop: pyStr(k.tsDrop),
    k_age_penalty: pyStr(k.agePenalty),
    sigma: pyStr(p.sigma),
    ts: pyStr(0.4),
    p_trend: pyStr(0.5),
    p_mr: pyStr(0.3),
    p_chop: pyStr(0.2),
    computed_at_utc: pyUtcIsoformat(nowMs),
    last_update_epoch: pyInt(epochSec(nowMs)),
    position_side: p.positionSide,
    position_age_sec: pyStr(3600.0),
    position_current_price: pyStr(p.currentPrice),
    position_entry_price: pyStr(p.entryPrice),
    position_unrealized_pnl: pyStr(p.currentPrice - p.entryPrice),
  };
}

/** One publish: the hash, then the stream entry; returns the entry's id and fields. */
export async function publishHarvestProposal(
  redis: ProducerRedis,
  symbol: string,
  p: KernelProposal,
  nowMs: number,
): Promise<{ id: string; fields: Record<string, string> }> {
  const fields = proposalFields(p, nowMs);
  await hsetMapping(redis, `quantum:harvest:proposal:${symbol}`, fields);
  const withSymbol = { symbol, ...fields };
  const id = await xaddMaxlen(redis, 'quantum:stream:harvest.proposal', withSymbol, 10000);
  return { id, fields: withSymbol };
}

/**
 * A cycle whose proposal did not change enough to publish (`should_publish` false): only
 * last_update_epoch is refreshed in the hash, nothing goes to the stream (seed 98398629a lines
 * 467-475; newest 73fab1f55 lines 523-531).
 */
export async function touchHarvestProposal(redis: ProducerRedis, symbol: string, nowMs: number): Promise<void> {
  await redis.hset(`quantum:harvest:proposal:${symbol}`, 'last_update_epoch', pyInt(epochSec(nowMs)));
}
