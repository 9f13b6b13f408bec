import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { applyLayerPlanId, pyFixed } from '../../handlers/heat-gate/plan-id.js';
import { unusableReason } from '../../handlers/heat-gate/unusable.js';
import { keys, streams } from '../../schemas/keys.js';
import type { FakeRedisData } from '../support/fake-redis-reader.js';
import { fakeCtx, runHandler } from '../support/fake-ctx.js';

/**
 * A stream entry as the Harvest Kernel's publisher writes it: `fields_with_symbol = {"symbol":
 * symbol, **fields}` (upstream microservices/harvest_proposal_publisher/main.py at 73fab1f55
 * lines 393-429; the same fields at 8f5055c52 lines 337-373), every value through str(): no
 * plan_id, action or trace_id.
 */
function kernelEntry(symbol: string, harvestAction: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    symbol,
    harvest_action: harvestAction,
    new_sl_proposed: 'None', // str(harvest_output.get("new_sl_proposed", "")) of a None
    R_net: '2.41',
    risk_unit: '0.02',
    cost_est: '0.0008',
    kill_score: '0.734',
    reason_codes: 'r_net_above_t3,kill_score_high',
    k_regime_flip: '0.2',
    k_sigma_spike: '0.31',
    k_ts_drop: '0.124',
    k_age_penalty: '0.1',
    sigma: '0.0123',
    ts: '1773568800.5',
    p_trend: '0.6',
    p_mr: '0.25',
    p_chop: '0.15',
    computed_at_utc: '2026-03-15T10:00:00.123456', // datetime.utcnow().isoformat()
    last_update_epoch: '1773568800',
    position_side: 'LONG',
    position_age_sec: '3600.0',
    position_current_price: '2012.5',
    position_entry_price: '1950.0',
    position_unrealized_pnl: '62.5',
    ...more,
  };
}

/**
 * A decision entry of upstream's other heat gate as it lands in the proposal stream once
 * rerouted (ops_ledger/OPS-2026-01-31-heat-gate-stream-fix.yaml: HEAT_STREAM_OUT =
 * quantum:stream:harvest.proposal): microservices/heat_gate/logic.py at 73fab1f55 lines 279-294,
 * fail-closed (`out_action = "NOOP"`), every value through str().
 */
const otherHeatGateNoop = {
  ts_epoch: '1773568801',
  symbol: 'ETHUSDT',
  plan_id: '5f0c2a9e1b7d4c33',
  in_action: 'FULL_CLOSE_PROPOSED',
  out_action: 'NOOP',
  action: 'NOOP',
  heat_level: 'unknown',
  heat_score: '0.0',
  heat_action: 'NONE',
  recommended_partial: '',
  reason: 'FAIL-CLOSED(missing_inputs)',
  inputs_age_sec: '',
  mode: 'enforce',
  debug_json: '{"fail_mode": "CLOSED"}',
};

/** Redis with equity and one position (heat 0.027: COLD), positions as the book reads them. */
const cold: FakeRedisData = {
  hashes: {
    [keys.portfolioState]: { equity_usd: '10000' },
    [keys.position('ETHUSDT')]: { symbol: 'ETHUSDT', position_notional_usd: '1800', sigma: '0.15' },
  },
  sets: { [keys.activePositions]: ['ETHUSDT'] },
};

/** The Apply Layer's create_plan_id in Python, computed by hand for the fixtures (see plan-id.ts). */
const sha16 = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

describe('heat gate: kernel proposals', () => {
  it('decides a kernel proposal (no plan_id, action or trace_id) and calibrates FULL_CLOSE_PROPOSED', async () => {
    const run = await runHandler(heatGate, kernelEntry('ETHUSDT', 'FULL_CLOSE_PROPOSED'), { redis: cold });
    const entry = run.emitted(streams.harvestCalibrated)[0]!;
    expect(entry).toMatchObject({ original_action: 'FULL_CLOSE_PROPOSED', calibrated_action: 'PARTIAL_25', reason: 'portfolio_heat_cold' });
    // Shadow: the Apply Layer reads the kernel's own action, so its plan_id is built from it.
    const planId = sha16('ETHUSDT:FULL_CLOSE_PROPOSED:0.734000:None:2026-03-15T10:00:00.123456');
    expect(entry.plan_id).toBe(planId);
    expect(run.emitted(streams.heatDecision)[0]).toMatchObject({
      plan_id: planId,
      in_action: 'FULL_CLOSE_PROPOSED',
      out_action: 'PARTIAL_25',
    });
    expect(entry.trace_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reads harvest_action before action', async () => {
    const run = await runHandler(heatGate, kernelEntry('ETHUSDT', 'FULL_CLOSE_PROPOSED', { action: 'NOOP', plan_id: 'given' }), {
      redis: cold,
    });
    expect(run.emitted(streams.harvestCalibrated)[0]).toMatchObject({ plan_id: 'given', original_action: 'FULL_CLOSE_PROPOSED' });
  });

  it('in enforce mode derives the plan_id from the calibrated action the Apply Layer will read, and writes the hash guarded newest-wins', async () => {
    const run = await runHandler(heatGate, kernelEntry('ETHUSDT', 'FULL_CLOSE_PROPOSED'), { env: { P26_MODE: 'enforce' }, redis: cold });
    const planId = sha16('ETHUSDT:PARTIAL_25:0.734000:None:2026-03-15T10:00:00.123456');
    expect(run.emitted(streams.heatDecision)[0]!.plan_id).toBe(planId);
    const write = run.recorder.effects.find((e) => e.op === 'putHash' && e.key === keys.harvestProposal('ETHUSDT'));
    expect(write).toMatchObject({
      fields: { action: 'PARTIAL_25', calibrated: '1', plan_id: planId, harvest_action: 'FULL_CLOSE_PROPOSED' },
    });
    expect(run.recorder.condition).toMatchObject({ key: keys.harvestProposalSourceId('ETHUSDT'), id: run.ctx.meta.id });
  });

  it.each([
    // 8f5055c52: reads harvest_action only, executes FULL_CLOSE_PROPOSED / PARTIAL_75 / PARTIAL_50.
    ['seed', '10000', 'PARTIAL_50', 'PARTIAL_50'],
    ['seed', '1000', 'PARTIAL_75', 'PARTIAL_75'],
    // 2907945a7: reads action when calibrated == "1"; still no PARTIAL_25.
    ['calibrated', '10000', 'PARTIAL_50', 'FULL_CLOSE_PROPOSED'],
    // 304998721 .. 73fab1f55: PARTIAL_25 executed too.
    ['newest', '10000', 'PARTIAL_25', 'FULL_CLOSE_PROPOSED'],
    ['newest', '100', 'FULL_CLOSE_PROPOSED', 'FULL_CLOSE_PROPOSED'],
  ])('Apply Layer era %s, equity %s: writes %s (harvest_action %s)', async (era, equity, action, harvestAction) => {
    const redis = { ...cold, hashes: { ...cold.hashes, [keys.portfolioState]: { equity_usd: equity } } };
    const run = await runHandler(heatGate, kernelEntry('ETHUSDT', 'FULL_CLOSE_PROPOSED'), {
      env: { P26_MODE: 'enforce', P26_APPLY_LAYER_ERA: era },
      redis,
    });
    const write = run.recorder.effects.find((e) => e.op === 'putHash' && e.key === keys.harvestProposal('ETHUSDT'));
    expect(write).toMatchObject({
      fields: { action, harvest_action: harvestAction, calibrated: '1', original_action: 'FULL_CLOSE_PROPOSED' },
    });
    expect(run.emitted(streams.harvestCalibrated)[0]!.calibrated_action).toBe(action);
  });

  it('leaves the kernel’s own NONE and PARTIAL_25 as they are (only its own action, never an invented one)', async () => {
    for (const kernelAction of ['NONE', 'PARTIAL_25']) {
      const run = await runHandler(heatGate, kernelEntry('ETHUSDT', kernelAction), {
        env: { P26_MODE: 'enforce', P26_APPLY_LAYER_ERA: 'seed' },
        redis: cold,
      });
      const write = run.recorder.effects.find((e) => e.op === 'putHash' && e.key === keys.harvestProposal('ETHUSDT'));
      expect(write).toMatchObject({ fields: { action: kernelAction, harvest_action: kernelAction } });
    }
  });

  it('calibrates a lower-case symbol under its own key, as the original did', async () => {
    const run = await runHandler(
      heatGate,
      { plan_id: 'p1', symbol: 'ethusdt', action: 'FULL_CLOSE' },
      { env: { P26_MODE: 'enforce' }, redis: cold },
    );
    expect(run.emitted(streams.harvestCalibrated)[0]).toMatchObject({ symbol: 'ethusdt', calibrated_action: 'PARTIAL_25' });
    expect(run.recorder.effects.some((e) => e.op === 'putHash' && e.key === keys.harvestProposal('ethusdt'))).toBe(true);
  });
});

describe('heat gate: entries no gate can use', () => {
  it.each([
    ['the other heat gate’s decision', otherHeatGateNoop, 'heat_gate_decision'],
    ['an entry without any action', { symbol: 'ETHUSDT', plan_id: 'p' }, 'no_action'],
    ['an action nobody proposes', { symbol: 'ETHUSDT', plan_id: 'p', action: 'NOOP' }, 'unproposed_action'],
    ['a kernel proposal', kernelEntry('ETHUSDT', 'NONE'), undefined],
    ['a seed-format proposal', { symbol: 'ETHUSDT', plan_id: 'p', action: 'FULL_CLOSE' }, undefined],
    ['an entry with no usable symbol (dead-lettered by the schema)', { symbol: 'not a symbol' }, undefined],
  ])('%s → %s', (_name, raw, reason) => {
    expect(unusableReason(raw)).toBe(reason);
  });

  it('counts the other heat gate’s NOOP and writes nothing, in enforce mode too', async () => {
    const run = await fakeCtx(heatGate, { env: { P26_MODE: 'enforce' }, redis: cold, state: undefined, meta: { raw: otherHeatGateNoop } });
    const failure = heatGate.failure as { unusable: (raw: Record<string, string>, ctx: unknown) => Promise<boolean> };
    expect(await failure.unusable(otherHeatGateNoop, run.ctx)).toBe(true);
    run.commit();
    expect(run.recorder.effects).toEqual([]);
    expect(run.metrics.get('quantum_heat_gate_unusable_entries_total', { reason: 'heat_gate_decision' })).toBe(1);
  });
});

describe('the Apply Layer’s plan_id', () => {
  it('is create_plan_id of upstream apply_layer/main.py (8f5055c52 lines 522-527)', () => {
    // Expected values from Python 3: hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    expect(
      applyLayerPlanId('BTCUSDT', 'FULL_CLOSE_PROPOSED', {
        kill_score: '0.734',
        new_sl_proposed: 'None',
        computed_at_utc: '2026-03-15T10:00:00.123456',
      }),
    ).toBe('1689fd54328e50d1');
    expect(
      applyLayerPlanId('ETHUSDT', 'PARTIAL_25', {
        kill_score: '0.3123456',
        new_sl_proposed: '3012.50',
        computed_at_utc: '2026-03-15T10:00:01.000001',
      }),
    ).toBe('3757491c0f10aae8');
    // No kill_score: the Apply Layer makes no plan ("Missing kill_score").
    expect(applyLayerPlanId('BTCUSDT', 'NONE', { computed_at_utc: 'x' })).toBeUndefined();
  });

  it('formats kill_score as Python’s :.6f (exact ties to even)', () => {
    // Python 3: f"{0.0078125:.6f}" == "0.007812", f"{0.0234375:.6f}" == "0.023438", f"{-0.0:.6f}" == "-0.000000"
    expect(pyFixed(0.0078125, 6)).toBe('0.007812');
    expect(pyFixed(0.0234375, 6)).toBe('0.023438');
    expect(pyFixed(-0, 6)).toBe('-0.000000');
    expect(pyFixed(0.123456789, 6)).toBe('0.123457');
  });
});

describe('heat gate: the safe form of a refused entry (enforce)', () => {
  const refused = { symbol: 'ETHUSDT', action: 'FULL_CLOSE' }; // seed format without plan_id: dead-lettered
  // The rejected hook's ctx has no batch state (the entry was never handled): fakeCtx gives state undefined.
  const rejected = heatGate.failure.rejected! as (raw: Record<string, string>, ctx: unknown) => Promise<void>;

  it('is written when no newer entry of the symbol was applied', async () => {
    const run = await fakeCtx(heatGate, {
      env: { P26_MODE: 'enforce' },
      redis: cold,
      state: undefined,
      meta: { raw: refused, id: '1800000000000-0' },
    });
    await rejected(refused, run.ctx);
    expect(run.recorder.effects.find((e) => e.op === 'putHash')).toMatchObject({ fields: { action: 'PARTIAL_25', calibrated: '1' } });
    // Checked at read, not in the commit: a superseded commit would drop the dead letter with it.
    expect(run.recorder.condition).toBeUndefined();
  });

  it('is not written over the calibration of a newer entry, and says so', async () => {
    const redis = { ...cold, strings: { [keys.harvestProposalSourceId('ETHUSDT')]: '1800000000001-0' } };
    const run = await fakeCtx(heatGate, {
      env: { P26_MODE: 'enforce' },
      redis,
      state: undefined,
      meta: { raw: refused, id: '1800000000000-0' },
    });
    await rejected(refused, run.ctx);
    run.commit();
    expect(run.recorder.effects).toEqual([]);
    expect(run.metrics.get('quantum_heat_gate_superseded_total')).toBe(1);
  });
});

describe('heat gate: the new settings', () => {
  it('names the Apply Layer era (default newest) and the heat refresh (default 10 s), refusing what they cannot be', () => {
    expect(heatGate.config({})).toMatchObject({ P26_APPLY_LAYER_ERA: 'newest', P26_HEAT_REFRESH_MS: 10_000 });
    expect(() => heatGate.config({ P26_APPLY_LAYER_ERA: 'old' })).toThrow(/P26_APPLY_LAYER_ERA/);
    expect(() => heatGate.config({ P26_HEAT_REFRESH_MS: '10' })).toThrow(/P26_HEAT_REFRESH_MS/);
  });
});
