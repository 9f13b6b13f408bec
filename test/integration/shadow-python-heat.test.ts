import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { heatBridge } from '../../handlers/heat-bridge/index.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { SHADOW_STATE, shadowDecisionsKey } from '../../app/shadow/namespace.js';
import { pythonServices } from '../../cli/shadow/python.js';
import { shadowReport } from '../../cli/shadow/report.js';
import { systemClock } from '../../runtime/host/index.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { useShadowHosts } from '../support/shadow-host.js';
import { waitFor } from '../support/runtime.js';
import { p26Calibrated } from '../support/python-incumbent.js';

/**
 * Stand-ins for the Python heat services beside P2.6 (test/support/python-incumbent.ts), writing
 * what upstream's code writes (binyaminsemerci-ops/quantum_trader):
 * - the heat decision of microservices/heat_gate @3eb5fe66b: XADD quantum:stream:harvest.heat.decision
 *   (main.py line 154) of the fail-open decision without a portfolio state (logic.py lines 189-193, 252-275);
 * - P2.7, microservices/heat_bridge/main.py @3eb5fe66b `write_lookup_keys`: the 12 lookup fields
 *   (lines 171-184) HSET + EXPIRE 1800 under by_plan (188-190), with last_plan_id under latest
 *   (194-198), the plan under latest_plan_id (SETEX, 202-203).
 */
function failOpenDecision(planId: string, symbol: string, action: string): Record<string, string> {
  return {
    ts_epoch: String(Math.floor(Date.now() / 1000)),
    symbol,
    plan_id: planId,
    in_action: action,
    out_action: action,
    heat_level: 'unknown',
    heat_score: '0.0',
    heat_action: 'NONE',
    recommended_partial: '',
    reason: 'missing_inputs',
    inputs_age_sec: '',
    mode: 'shadow',
    debug_json: '{}',
  };
}

async function p27Lookups(r: Redis, decision: Record<string, string>, outAction = decision.out_action!) {
  const fields = decision;
  const lookup = {
    ts_epoch: fields.ts_epoch!,
    symbol: fields.symbol!,
    plan_id: fields.plan_id!,
    in_action: fields.in_action!,
    out_action: outAction,
    heat_level: fields.heat_level!,
    heat_score: fields.heat_score!,
    heat_action: fields.heat_action!,
    recommended_partial: fields.recommended_partial!,
    reason: fields.reason!,
    mode: fields.mode!,
    debug_json: fields.debug_json!,
  };
  await r.hset(keys.heatByPlan(lookup.plan_id), lookup);
  await r.expire(keys.heatByPlan(lookup.plan_id), 1800);
  await r.hset(keys.heatLatest(lookup.symbol), { ...lookup, last_plan_id: lookup.plan_id });
  await r.expire(keys.heatLatest(lookup.symbol), 1800);
  await r.setex(keys.heatLatestPlanId(lookup.symbol), 1800, lookup.plan_id);
}

describe('the shadow beside the Python heat gate (P2.6) and heat bridge (P2.7), read where they write', () => {
  const redis = usePrivateRedis();
  const startShadow = useShadowHosts();

  it('pairs by plan_id: the same, K3 documented, a planted difference named in each gate, a proposal P2.6 skips unpaired', async () => {
    const r = redis.client;
    // The Python services' own groups (upstream reads both streams with XREADGROUP).
    await r.xgroup('CREATE', streams.harvestProposal, 'p26_heat_gate', '$', 'MKSTREAM');
    await r.xgroup('CREATE', streams.heatDecision, 'heat_bridge', '$', 'MKSTREAM');
    await startShadow({ base: r, handlers: [heatGate, heatBridge], env: {}, host: systemClock, consumer: 'shadow-py-heat', blockMs: 100 });
    await r.hset(keys.portfolioState, 'equity_usd', '10000');
    const proposals: string[][] = [
      ['plan_id', 'py-h-same', 'symbol', 'BTCUSDT', 'action', 'PARTIAL_50'],
      ['plan_id', 'py-h-k3', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE_PROPOSED'],
      ['plan_id', 'py-h-odd', 'symbol', 'XRPUSDT', 'action', 'PARTIAL_25'],
      // The kernel's own form, no plan_id: P2.6 skips it (main.py line 277), the gates decide it (K2).
      ['symbol', 'SOLUSDT', 'harvest_action', 'PARTIAL_25'],
    ];
    for (const fields of proposals) await r.xadd(streams.harvestProposal, '*', ...fields);
    const same = failOpenDecision('py-h-same', 'BTCUSDT', 'PARTIAL_50');
    const odd = failOpenDecision('py-h-odd', 'XRPUSDT', 'PARTIAL_25');
    for (const decision of [same, odd]) await r.xadd(streams.heatDecision, '*', ...Object.entries(decision).flat());
    await waitFor(
      async () => (await r.xlen(shadowDecisionsKey('heat-gate'))) === 4 && (await r.xlen(shadowDecisionsKey('heat-bridge'))) === 2,
      { what: 'the shadow decided every input' },
    );

    // What the Python services decided: PARTIALs unchanged (one in enforce mode), the kernel's
    // full close passed unchanged as the original did (K3), and two planted differences: P2.6
    // turned a PARTIAL_25 into PARTIAL_50, P2.7 wrote another out_action than the decision's.
    await p26Calibrated(r, 'py-h-same', 'BTCUSDT', 'PARTIAL_50', 'PARTIAL_50', 'partial_unchanged', 'enforce');
    await p26Calibrated(r, 'py-h-k3', 'ETHUSDT', 'FULL_CLOSE_PROPOSED', 'FULL_CLOSE_PROPOSED', 'non_full_close_unchanged');
    await p26Calibrated(r, 'py-h-odd', 'XRPUSDT', 'PARTIAL_25', 'PARTIAL_50', 'partial_unchanged');
    await p27Lookups(r, same);
    await p27Lookups(r, odd, 'FULL_CLOSE');

    const report = await shadowReport(r, pythonServices(r), { graceMs: 0 }, Date.now());
    const byGate = (gate: string) =>
      Object.fromEntries(report.pairs.filter((p) => p.gate === gate).map((p) => [p.label, [p.class, p.incumbent, p.shadow, p.row]]));
    expect(byGate('heat-gate')).toEqual({
      'py-h-same': [
        'same',
        'calibrated_action=PARTIAL_50 reason=partial_unchanged',
        'calibrated_action=PARTIAL_50 reason=partial_unchanged',
        undefined,
      ],
      'py-h-k3': [
        'documented',
        'calibrated_action=FULL_CLOSE_PROPOSED reason=non_full_close_unchanged',
        expect.stringMatching(/^calibrated_action=\S+ reason=portfolio_heat_(cold|warm|hot)$/),
        'K3',
      ],
      'py-h-odd': [
        'unexplained',
        'calibrated_action=PARTIAL_50 reason=partial_unchanged',
        'calibrated_action=PARTIAL_25 reason=partial_unchanged',
        undefined,
      ],
    });
    expect(byGate('heat-bridge')).toEqual({
      'py-h-same': [
        'same',
        'by_plan out_action=PARTIAL_50 heat_level=unknown reason=missing_inputs',
        'by_plan out_action=PARTIAL_50 heat_level=unknown reason=missing_inputs',
        undefined,
      ],
      'py-h-odd': [
        'unexplained',
        'by_plan out_action=FULL_CLOSE heat_level=unknown reason=missing_inputs',
        'by_plan out_action=PARTIAL_25 heat_level=unknown reason=missing_inputs',
        undefined,
      ],
    });
    expect(report).toMatchObject({ incumbent: 'python', compared: 5, same: 2, documented: 1, unexplained: 2, unpaired: 1 });
    expect(report.unpairedInputs.map((u) => [u.gate, u.decidedBy])).toEqual([['heat-gate', 'shadow']]);

    // The incumbent's record keeps what else it wrote of the plan: the heat decision, the enforce
    // hash (still this plan's), the bridge's latest keys.
    const since = (await r.hget(SHADOW_STATE, 'heat-gate:since'))!;
    const incumbent = pythonServices(r);
    const shadowRecord = report.pairs.find((p) => p.gate === 'heat-gate' && p.label === 'py-h-same')!;
    const decided = await incumbent.decisions(
      r,
      'heat-gate',
      since,
      new Map([
        [
          'py-h-same',
          {
            gate: 'heat-gate',
            id: shadowRecord.id,
            producedAt: 0,
            raw: { plan_id: 'py-h-same' },
            outcome: 'handled',
            effects: [],
            jobs: [],
          },
        ],
      ]),
    );
    const ops = (decided.get('py-h-same')!.effects as { op: string; stream?: string; key?: string }[]).map((e) => e.stream ?? e.key);
    expect(ops).toEqual([streams.harvestCalibrated, streams.heatDecision, keys.harvestProposal('BTCUSDT')]);
  });
});
