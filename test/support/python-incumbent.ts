import type { Redis } from 'ioredis';
import { keys, streams } from '../../schemas/keys.js';

/**
 * A stand-in for the Python governor's outputs, byte for byte as upstream's code writes them
 * (binyaminsemerci-ops/quantum_trader @73fab1f55, microservices/governor/main.py): a permit is
 * SETEX quantum:permit:{plan_id} 60 json.dumps({granted, symbol, decision, computed_qty,
 * computed_notional, created_at, consumed, eff_*, downsize_factor, extra_cooldown_sec}) (lines
 * 1092-1112); a block is SETEX quantum:governor:block:{plan_id} 3600 json.dumps({reason,
 * timestamp, symbol}) (lines 1036-1041). json.dumps writes ", " and ": " between items.
 */
export async function pythonPermit(r: Redis, planId: string, symbol: string): Promise<void> {
  const permit = `{"granted": true, "symbol": "${symbol}", "decision": "EXECUTE", "computed_qty": 0.0, "computed_notional": 0.0, "created_at": 1795700000.123, "consumed": false, "eff_score": "", "eff_confidence": "", "eff_stale": "0", "eff_factor": "1.0000", "eff_action": "NONE", "eff_reason": "no_data", "downsize_factor": "1.0000", "extra_cooldown_sec": "0"}`;
  await r.setex(keys.permit(planId), 60, permit);
}
export async function pythonBlock(r: Redis, planId: string, symbol: string, reason: string): Promise<void> {
  await r.setex(keys.governorBlock(planId), 3600, `{"reason": "${reason}", "timestamp": 1795700000.456, "symbol": "${symbol}"}`);
}

/**
 * A stand-in for the Python heat gate's output, writing what upstream's code writes
 * (binyaminsemerci-ops/quantum_trader): P2.6, microservices/portfolio_heat_gate/main.py @1370c1def
 * `_process_proposal`: XADD quantum:stream:harvest.calibrated of trace_id, plan_id, symbol,
 * original_action, calibrated_action, heat_value (str of a float), heat_bucket, mode, calibrated
 * "true", reason, timestamp, then the proposal's fields but `action` (lines 306-327); in enforce
 * mode HSET quantum:harvest:proposal:{symbol} (lines 336-359) + EXPIRE 300 (line 361).
 */
export async function p26Calibrated(
  r: Redis,
  planId: string,
  symbol: string,
  action: string,
  calibrated: string,
  reason: string,
  mode = 'shadow',
) {
  const entry = {
    trace_id: `trace-${planId}`,
    plan_id: planId,
    symbol,
    original_action: action,
    calibrated_action: calibrated,
    heat_value: '0.0',
    heat_bucket: 'COLD',
    mode,
    calibrated: 'true',
    reason,
    timestamp: String(Math.floor(Date.now() / 1000)),
  };
  await r.xadd(streams.harvestCalibrated, '*', ...Object.entries(entry).flat());
  if (mode !== 'enforce') return;
  const hash = {
    trace_id: entry.trace_id,
    plan_id: planId,
    symbol,
    action: calibrated,
    original_action: action,
    heat_value: entry.heat_value,
    heat_bucket: entry.heat_bucket,
    calibrated: '1',
    calibrated_by: 'p26_heat_gate',
    downgrade_reason: reason,
    ts: entry.timestamp,
  };
  await r.hset(keys.harvestProposal(symbol), hash);
  await r.expire(keys.harvestProposal(symbol), 300);
}
