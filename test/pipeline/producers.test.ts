/**
 * The fixtures render what Python renders: vectors computed with CPython 3 from the upstream
 * expressions each fixture cites (hashlib.sha256(f"…".encode()).hexdigest()[:16],
 * datetime.utcfromtimestamp(…).isoformat(), json.dumps, str(float)).
 */
import { describe, expect, it } from 'vitest';
import { applyLayerPlanFor, applyLayerPlanId, applyLayerSteps } from './producers/apply-layer.js';
import { intentBridgePlanId } from './producers/intent-bridge.js';
import { pyUtcIsoformat } from './producers/upstream.js';
import { heatGateDecision } from './producers/heat-gate-rerouted.js';

const hash = {
  harvest_action: 'FULL_CLOSE_PROPOSED',
  kill_score: '0.71',
  new_sl_proposed: 'None',
  computed_at_utc: '2026-03-15T06:27:09.123000',
};

describe('producer fixtures render as Python does', () => {
  it("the Apply Layer's plan_id: sha256 of symbol, action, kill_score:.6f, new_sl_proposed, computed_at_utc", () => {
    // "BTCUSDT:FULL_CLOSE_PROPOSED:0.710000:None:2026-03-15T06:27:09.123000"
    expect(applyLayerPlanId('seed', 'BTCUSDT', hash)).toBe('a8deb59851fcf192');
    // Newest, calibrated: the action it reads is the hash's `action` (2907945a7).
    const calibrated = { ...hash, action: 'PARTIAL_25', calibrated: '1', new_sl_proposed: '93500.5' };
    expect(applyLayerPlanId('newest', 'BTCUSDT', calibrated)).toBe('9bd24da254639b5c');
    expect(applyLayerPlanId('seed', 'BTCUSDT', calibrated)).not.toBe('9bd24da254639b5c');
  });

  it('what each era of the Apply Layer executes', () => {
    expect(applyLayerSteps('seed', 'PARTIAL_25').reasonCodes).toEqual(['unknown_action_PARTIAL_25']);
    expect(applyLayerSteps('newest', 'PARTIAL_25').decision).toBe('EXECUTE');
    expect(applyLayerSteps('newest', 'NOOP')).toMatchObject({
      decision: 'SKIP',
      reasonCodes: ['action_normalized_noop_unknown_variant', 'action_hold'],
    });
    expect(applyLayerPlanFor('seed', 'BTCUSDT', { ...hash, action: 'NOOP', calibrated: '1' }).decision).toBe('EXECUTE');
  });

  it("the intent bridge's plan_id: sha256(f'{stream_id}|{symbol}|{side}|{qty}')", () => {
    expect(intentBridgePlanId('1763888888888-0', { symbol: 'BNBUSDT', side: 'BUY', qty: 0.22 })).toBe('0051b8a734cd32b3');
  });

  it('datetime.utcnow().isoformat()', () => {
    expect(pyUtcIsoformat(1_773_556_029_123)).toBe('2026-03-15T06:27:09.123000');
    expect(pyUtcIsoformat(1_773_556_029_000)).toBe('2026-03-15T06:27:09');
  });

  it("quantum-heat-gate's answer to a kernel proposal: plan_id unknown, action UNKNOWN or NOOP, no harvest_action", () => {
    const ok = heatGateDecision(
      { symbol: 'BTCUSDT', harvest_action: 'FULL_CLOSE_PROPOSED' },
      { kind: 'ok', heatScore: 0.12345, heatLevel: 'cold', ageSec: 2 },
      1_773_556_029_123,
    );
    expect(ok).toMatchObject({ plan_id: 'unknown', in_action: 'UNKNOWN', action: 'UNKNOWN', heat_score: '0.1235', ts_epoch: '1773556029' });
    expect(ok).not.toHaveProperty('harvest_action');
    const closed = heatGateDecision(ok, { kind: 'fail_closed', reason: 'missing_inputs' }, 1_773_556_030_000);
    expect(closed).toMatchObject({ in_action: 'UNKNOWN', action: 'NOOP', reason: 'FAIL-CLOSED(missing_inputs)', inputs_age_sec: '' });
  });
});
