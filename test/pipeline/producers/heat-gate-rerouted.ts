/**
 * Upstream's other heat gate (microservices/heat_gate, unit quantum-heat-gate) as deployed after
 * ops_ledger/OPS-2026-01-31-heat-gate-stream-fix.yaml: HEAT_STREAM_OUT set to
 * quantum:stream:harvest.proposal, and an `action` = out_action field added (a7f83c747). It reads
 * the same stream in its group heat_gate and writes a decision entry into it for every entry,
 * its own included. `process_harvest_proposal` / `_build_failopen_decision` at 73fab1f55
 * (microservices/heat_gate/logic.py lines 162-300); `write_heat_decision` (main.py lines
 * 148-175): XADD without MAXLEN, and HSET quantum:harvest:heat:{symbol} + EXPIRE 600.
 * A kernel proposal has no plan_id and no action, so in_action is UNKNOWN and plan_id unknown;
 * out_action is in_action when the heat is known (only FULL_CLOSE_PROPOSED is moderated, and
 * that is never in `action`), and NOOP when it fails closed (HEAT_FAIL_MODE=CLOSED, default).
 */
import { epochSec, hsetMapping, pyInt, pyStr, xaddMaxlen, type ProducerRedis } from './upstream.js';

export type HeatGateOutcome =
  | {
      readonly kind: 'fail_closed';
      readonly reason: 'missing_inputs' | 'missing_ts' | 'stale_inputs' | 'invalid_ts';
      readonly ageSec?: number;
    }
  | { readonly kind: 'ok'; readonly heatScore: number; readonly heatLevel: 'cold' | 'warm' | 'hot'; readonly ageSec: number };

/** The decision it writes for `input` (a kernel proposal, or one of its own entries read back). */
export function heatGateDecision(input: Record<string, string>, outcome: HeatGateOutcome, nowMs: number): Record<string, string> {
  const symbol = input.symbol ?? 'UNKNOWN';
  const planId = input.plan_id ?? 'unknown';
  const inAction = input.action ?? 'UNKNOWN';
  const base = { ts_epoch: pyInt(epochSec(nowMs)), symbol, plan_id: planId, in_action: inAction };
  if (outcome.kind === 'fail_closed') {
    return {
      ...base,
      out_action: 'NOOP',
      action: 'NOOP',
      heat_level: 'unknown',
      heat_score: '0.0',
      heat_action: 'NONE',
      recommended_partial: '',
      reason: `FAIL-CLOSED(${outcome.reason})`,
      inputs_age_sec: outcome.ageSec === undefined ? '' : pyInt(outcome.ageSec),
      mode: 'shadow',
      debug_json: '{"fail_mode": "CLOSED"}',
    };
  }
  return {
    ...base,
    out_action: inAction,
    action: inAction,
    heat_level: outcome.heatLevel,
    heat_score: pyStr(Math.round(outcome.heatScore * 10_000) / 10_000),
    heat_action: 'NONE',
    recommended_partial: '',
    reason: 'ok',
    inputs_age_sec: pyInt(outcome.ageSec),
    mode: 'shadow',
    debug_json: '{"components":{},"thresholds":{"warm":0.45,"hot":0.7}}',
  };
}

/** One pass of quantum-heat-gate over `input`: the entry into the proposal stream, and its shadow hash. */
export async function writeReroutedHeatGateDecision(
  redis: ProducerRedis,
  input: Record<string, string>,
  outcome: HeatGateOutcome,
  nowMs: number,
): Promise<{ id: string; fields: Record<string, string> }> {
  const decision = heatGateDecision(input, outcome, nowMs);
  const id = await xaddMaxlen(redis, 'quantum:stream:harvest.proposal', decision);
  const shadow = `quantum:harvest:heat:${decision.symbol!}`;
  await hsetMapping(redis, shadow, {
    ts_epoch: decision.ts_epoch!,
    last_plan_id: decision.plan_id!,
    heat_level: decision.heat_level!,
    heat_score: decision.heat_score!,
    heat_action: decision.heat_action!,
    out_action: decision.out_action!,
    recommended_partial: decision.recommended_partial!,
    reason: decision.reason!,
    debug_json: decision.debug_json!,
  });
  await redis.expire(shadow, 600);
  return { id, fields: decision };
}
