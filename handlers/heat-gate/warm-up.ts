import type { Fields, WarmUpSample } from '../../runtime/contract/index.js';
import { pyFloatStr } from '../../schemas/python-number.js';
import { sampleBookRedis, samplePositions } from '../positions/sample-book.js';
import type { HeatGateConfig } from './config.js';

/** The kernel's actions (harvest-proposal-publisher.ts): closes downgraded by heat, and the partials it passes. */
const kernelActions = ['FULL_CLOSE_PROPOSED', 'PARTIAL_75', 'FULL_CLOSE_PROPOSED', 'PARTIAL_50'] as const;

/** datetime.utcnow().isoformat() as the publisher writes computed_at_utc. */
function utcIsoformat(nowMs: number): string {
  return `${new Date(nowMs).toISOString().slice(0, 23)}000`;
}

/**
 * The heat gate's warm-up traffic: proposals on the sample book from both producers of
 * quantum:stream:harvest.proposal (schemas/harvest-proposal.ts), alternately: the seeds' format
 * (plan_id, symbol, action, trace_id, reason; what `quantum-gates inject proposal` writes) and
 * the Harvest Kernel's publisher (proposalFields, test/pipeline/producers/harvest-proposal-publisher.ts).
 */
export function heatGateWarmUp(_config: HeatGateConfig, nowMs: number): WarmUpSample {
  const computedAt = utcIsoformat(nowMs);
  const epoch = String(Math.floor(nowMs / 1000));
  return {
    redis: sampleBookRedis(nowMs),
    entry(n): Fields {
      const p = samplePositions[n % samplePositions.length]!;
      if (n % 2 === 0)
        return {
          plan_id: `warm-up-${n}`,
          symbol: p.symbol,
          action: n % 4 === 0 ? 'FULL_CLOSE' : 'PARTIAL_50',
          trace_id: `warm-up-${n}`,
          reason: 'tp_hit',
        };
      const action = kernelActions[(n >> 1) % kernelActions.length]!;
      return {
        symbol: p.symbol,
        harvest_action: action,
        new_sl_proposed: 'None',
        R_net: '2.5',
        risk_unit: '0.02',
        cost_est: '0.001',
        kill_score: action === 'FULL_CLOSE_PROPOSED' ? '0.71' : '0.3',
        reason_codes: action === 'FULL_CLOSE_PROPOSED' ? 'kill_score_triggered,regime_flip' : `harvest_${action.toLowerCase()}`,
        k_regime_flip: '1.0',
        k_sigma_spike: '0.2',
        k_ts_drop: '0.1',
        k_age_penalty: '0.05',
        sigma: pyFloatStr(p.sigma),
        ts: '0.4',
        p_trend: '0.5',
        p_mr: '0.3',
        p_chop: '0.2',
        computed_at_utc: computedAt,
        last_update_epoch: epoch,
        position_side: p.qty > 0 ? 'LONG' : 'SHORT',
        position_age_sec: '3600.0',
        position_current_price: pyFloatStr(p.mark),
        position_entry_price: pyFloatStr(p.mark),
        position_unrealized_pnl: '0.0',
      };
    },
  };
}
