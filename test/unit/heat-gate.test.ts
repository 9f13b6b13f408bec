import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { calibrate } from '../../handlers/heat-gate/calibrate.js';
import { HEAT_CAP, assessHeat, bucketOf, computeHeat } from '../../handlers/positions/heat.js';
import { keys, streams } from '../../schemas/keys.js';
import { FakeRedisReader, type FakeRedisData } from '../support/fake-redis-reader.js';
import { RecordedMetrics, fakeCtx, recordingMetricFactory, runHandler } from '../support/fake-ctx.js';

/** Redis contents with one portfolio and the given positions. */
function portfolio(
  equity: string | undefined,
  positions: Record<string, { notional: number; sigma?: number; volatility?: number }>,
): FakeRedisData {
  const hashes: Record<string, Record<string, string>> = {};
  if (equity !== undefined) hashes[keys.portfolioState] = { equity_usd: equity };
  for (const [symbol, p] of Object.entries(positions)) {
    hashes[keys.position(symbol)] = {
      symbol,
      position_notional_usd: String(p.notional),
      ...(p.sigma === undefined ? {} : { sigma: String(p.sigma) }),
      ...(p.volatility === undefined ? {} : { volatility: String(p.volatility) }),
    };
  }
  return { hashes, sets: { [keys.activePositions]: Object.keys(positions) } };
}

const proposal = (fields: Record<string, string> = {}) => ({
  plan_id: 'p1',
  symbol: 'ETHUSDT',
  action: 'FULL_CLOSE',
  trace_id: 't1',
  ...fields,
});

describe('heat formula', () => {
  it('sums |notional| × sigma over positions with sigma > 0, divided by equity', () => {
    const result = computeHeat({
      equityRaw: '1000',
      equityUsd: 1000,
      positions: [
        { symbol: 'A', notionalUsd: -1000, sigma: 0.5 },
        { symbol: 'B', notionalUsd: 400, sigma: 0 },
        { symbol: 'C', notionalUsd: 400, sigma: undefined },
        { symbol: 'D', notionalUsd: 200, sigma: 0.1 },
      ],
    });
    expect(result.heat).toBeCloseTo((1000 * 0.5 + 200 * 0.1) / 1000, 12);
    expect(result.problem).toBeUndefined();
  });

  it.each([
    ['missing portfolio state', undefined, undefined, 'missing_portfolio_state'],
    ['zero equity', '0', 0, 'invalid_equity'],
    ['negative equity', '-5', -5, 'invalid_equity'],
    ['unparseable equity', 'abc', undefined, 'invalid_equity'],
  ] as const)('reports %s as a problem with heat 0', (_name, raw, equity, problem) => {
    expect(computeHeat({ equityRaw: raw, equityUsd: equity, positions: [] })).toEqual({ heat: 0, problem });
  });

  it('divides by max(equity, 1) as the original, so a tiny equity gives a finite heat', () => {
    expect(computeHeat({ equityRaw: '1e-300', equityUsd: 1e-300, positions: [{ symbol: 'A', notionalUsd: 100, sigma: 0.5 }] })).toEqual({
      heat: 50,
    });
  });

  it('caps a heat that would not be finite and says so', () => {
    const assessed = assessHeat({
      equityRaw: '10',
      equityUsd: 10,
      positions: [
        { symbol: 'A', notionalUsd: 1e308, sigma: 5 },
        { symbol: 'B', notionalUsd: 1e308, sigma: 5 },
      ],
    });
    expect(assessed).toMatchObject({ trusted: true, heat: HEAT_CAP, capped: true });
  });

  it.each([
    [0, 'COLD'],
    [0.2499999, 'COLD'],
    [0.25, 'WARM'],
    [0.6499999, 'WARM'],
    [0.65, 'HOT'],
    [3, 'HOT'],
  ] as const)('puts heat %s in bucket %s (COLD < 0.25 ≤ WARM < 0.65 ≤ HOT)', (heat, bucket) => {
    expect(bucketOf(heat, 0.25, 0.65)).toBe(bucket);
  });
});

describe('heat gate: the seed scenarios', () => {
  // Seed 000's four redis-cli scenarios, with the heat each one states.
  it.each([
    [
      'COLD → PARTIAL_25',
      '10000',
      { ETHUSDT: { notional: 1800, sigma: 0.15 } },
      'FULL_CLOSE',
      0.027,
      'COLD',
      'PARTIAL_25',
      'portfolio_heat_cold',
    ],
    [
      'WARM → PARTIAL_75',
      '3000',
      { ETHUSDT: { notional: 1800, sigma: 0.15 }, BTCUSDT: { notional: 2000, sigma: 0.3 } },
      'FULL_CLOSE',
      0.29,
      'WARM',
      'PARTIAL_75',
      'portfolio_heat_warm',
    ],
    [
      'HOT → FULL_CLOSE allowed',
      '1000',
      { ETHUSDT: { notional: 1800, sigma: 0.15 }, BTCUSDT: { notional: 2000, sigma: 0.3 } },
      'FULL_CLOSE',
      0.87,
      'HOT',
      'FULL_CLOSE',
      'portfolio_heat_hot',
    ],
    [
      'PARTIAL passes',
      '10000',
      { ETHUSDT: { notional: 1800, sigma: 0.15 } },
      'PARTIAL_50',
      0.027,
      'COLD',
      'PARTIAL_50',
      'partial_unchanged',
    ],
    [
      'another action passes',
      '10000',
      { ETHUSDT: { notional: 1800, sigma: 0.15 } },
      'UPDATE_SL',
      0.027,
      'COLD',
      'UPDATE_SL',
      'non_full_close_unchanged',
    ],
    // The kernel's full close is a full close (issue #22 item 4: the original compared with
    // exactly FULL_CLOSE and let it through, so on real traffic the gate did nothing).
    [
      'the kernel’s FULL_CLOSE_PROPOSED is calibrated when COLD',
      '10000',
      { ETHUSDT: { notional: 1800, sigma: 0.15 } },
      'FULL_CLOSE_PROPOSED',
      0.027,
      'COLD',
      'PARTIAL_25',
      'portfolio_heat_cold',
    ],
  ] as const)('%s', async (_name, equity, positions, action, heat, bucket, calibrated, reason) => {
    const run = await runHandler(heatGate, proposal({ action }), { redis: portfolio(equity, positions) });
    const [entry] = run.emitted(streams.harvestCalibrated);
    expect(entry).toMatchObject({ original_action: action, calibrated_action: calibrated, heat_bucket: bucket, reason, mode: 'shadow' });
    expect(Number(entry!.heat_value)).toBeCloseTo(heat, 6);
    // The original wrote calibrated "true" on every entry.
    expect(entry!.calibrated).toBe('true');
  });
});

describe('heat gate: fail-closed', () => {
  it.each([
    [
      'the portfolio state is missing',
      portfolio(undefined, { ETHUSDT: { notional: 1800, sigma: 0.15 } }),
      'portfolio_state_missing',
      'portfolio_state_missing',
    ],
    ['equity is zero', portfolio('0', { ETHUSDT: { notional: 1800, sigma: 0.15 } }), 'invalid_equity', 'equity_not_positive'],
    ['equity is negative', portfolio('-100', {}), 'invalid_equity', 'equity_not_positive'],
    ['equity is not a number', portfolio('n/a', {}), 'heat_calculation_error', 'equity_not_a_number'],
  ])('downgrades FULL_CLOSE to PARTIAL_25 when %s, with the original reason and our cause', async (_name, redis, label, cause) => {
    const run = await runHandler(heatGate, proposal(), { redis });
    expect(run.emitted(streams.harvestCalibrated)[0]).toMatchObject({
      calibrated_action: 'PARTIAL_25',
      heat_bucket: 'COLD',
      reason: 'portfolio_heat_cold',
      fail_closed_cause: cause,
      calibrated: 'true',
    });
    expect(run.metrics.get('p26_failures_total', { reason: label })).toBe(1);
  });

  it('treats no positions at all as heat 0 (COLD)', async () => {
    const run = await runHandler(heatGate, proposal(), { redis: portfolio('10000', {}) });
    expect(run.emitted(streams.harvestCalibrated)[0]).toMatchObject({
      calibrated_action: 'PARTIAL_25',
      heat_value: '0.0',
      reason: 'portfolio_heat_cold',
    });
    expect(run.emitted(streams.harvestCalibrated)[0]).not.toHaveProperty('fail_closed_cause');
  });

  it('skips positions without sigma and falls back to the volatility field', async () => {
    const run = await runHandler(heatGate, proposal(), {
      redis: portfolio('1000', { AUSDT: { notional: 1000 }, BUSDT: { notional: 1000, volatility: 0.3 } }),
    });
    expect(run.emitted(streams.harvestCalibrated)[0]).toMatchObject({ heat_value: '0.3', heat_bucket: 'WARM' });
  });

  it('on an error after retries (the failure policy) emits PARTIAL_25, cause heat_gate_error', async () => {
    const run = await fakeCtx(heatGate, { state: undefined, meta: { raw: proposal() } });
    const failure = heatGate.failure;
    if (failure.policy === 'dead-letter') throw new Error('heat gate must not dead-letter on errors');
    await failure.fallback(heatGate.input.parse(proposal()), { error: new Error('redis down'), attempts: 3 }, run.ctx);
    run.commit();
    expect(failure.policy).toBe('fail-closed');
    expect(run.emitted(streams.harvestCalibrated)[0]).toMatchObject({
      calibrated_action: 'PARTIAL_25',
      reason: 'portfolio_heat_cold',
      fail_closed_cause: 'heat_gate_error',
      heat_bucket: 'COLD',
    });
    expect(run.emitted(streams.heatDecision)[0]).toMatchObject({
      out_action: 'PARTIAL_25',
      heat_action: 'DOWNGRADE_FULL_TO_PARTIAL',
      heat_level: 'unknown',
      reason: 'compute_error:heat_gate_error',
    });
    expect(run.metrics.get('p26_failures_total', { reason: 'processing_error' })).toBe(1);
  });
});

describe('heat gate: outputs', () => {
  it('carries the proposal’s other fields and names both actions', async () => {
    const run = await runHandler(heatGate, proposal({ reason: 'tp_hit', pnl_pct: '4.2', harvest_action: 'FULL_CLOSE' }), {
      redis: portfolio('10000', { ETHUSDT: { notional: 1800, sigma: 0.15 } }),
    });
    const entry = run.emitted(streams.harvestCalibrated)[0]!;
    expect(entry).toMatchObject({
      trace_id: 't1',
      plan_id: 'p1',
      symbol: 'ETHUSDT',
      reason: 'portfolio_heat_cold',
      pnl_pct: '4.2',
      timestamp: '1800000000',
    });
    expect(entry).not.toHaveProperty('action');
    // The original carried every field but `action`, harvest_action included.
    expect(entry.harvest_action).toBe('FULL_CLOSE');
  });

  it('reads the action from harvest_action when action is absent', async () => {
    const run = await runHandler(
      heatGate,
      { plan_id: 'p2', symbol: 'ETHUSDT', harvest_action: 'FULL_CLOSE' },
      { redis: portfolio('10000', {}) },
    );
    expect(run.emitted(streams.harvestCalibrated)[0]).toMatchObject({ original_action: 'FULL_CLOSE', calibrated_action: 'PARTIAL_25' });
  });

  it('writes a heat decision for the bridge with every field it reads', async () => {
    const run = await runHandler(heatGate, proposal(), {
      redis: portfolio('3000', { ETHUSDT: { notional: 1800, sigma: 0.15 }, BTCUSDT: { notional: 2000, sigma: 0.3 } }),
    });
    const decision = run.emitted(streams.heatDecision)[0]!;
    expect(Object.keys(decision)).toEqual([
      'ts_epoch',
      'symbol',
      'plan_id',
      'in_action',
      'out_action',
      'heat_level',
      'heat_score',
      'heat_action',
      'recommended_partial',
      'reason',
      'inputs_age_sec',
      'mode',
      'debug_json',
      // Ours, after the original's thirteen (issue #40).
      'heat_by_symbol',
      'decided_at_ms',
    ]);
    expect(decision).toMatchObject({
      in_action: 'FULL_CLOSE',
      out_action: 'PARTIAL_75',
      heat_level: 'warm',
      heat_action: 'DOWNGRADE_FULL_TO_PARTIAL',
      recommended_partial: '0.75',
      reason: 'ok',
      decided_at_ms: String(1_800_000_000_000),
    });
    expect(JSON.parse(decision.heat_by_symbol!)).toEqual({ ETHUSDT: (1800 * 0.15) / 3000, BTCUSDT: (2000 * 0.3) / 3000 });
  });

  it('records every symbol’s share of the heat on a decision that changes the action, however many the book holds (issue #40 item 1)', async () => {
    const book: Record<string, { notional: number; sigma: number }> = {};
    for (let i = 0; i < 60; i++) book[`SYM${String(i).padStart(3, '0')}USDT`] = { notional: 100 + i, sigma: 0.003 + i / 10_000 };
    const run = await runHandler(heatGate, proposal(), { redis: portfolio('12000', book) });
    const decision = run.emitted(streams.heatDecision)[0]!;
    expect(decision.out_action).toBe('PARTIAL_25');
    const debug = JSON.parse(decision.debug_json!) as { heat: number; by_symbol?: Record<string, number> };
    // debug_json keeps its 400 characters: it has no room for 60 names.
    expect(decision.debug_json!.length).toBeLessThanOrEqual(400);
    expect(Object.keys(debug.by_symbol ?? {}).length).toBeLessThan(60);
    const shares = JSON.parse(decision.heat_by_symbol!) as Record<string, number>;
    expect(Object.keys(shares)).toHaveLength(60);
    const expected = Object.values(book).reduce((sum, p) => sum + p.notional * p.sigma, 0) / 12000;
    expect(Object.values(shares).reduce((a, b) => a + b, 0)).toBeCloseTo(expected, 15);
    expect(debug.heat).toBeCloseTo(expected, 15);
  });

  it('keeps the latest heat in Redis for the budget engine', async () => {
    const run = await runHandler(heatGate, proposal(), { redis: portfolio('10000', { ETHUSDT: { notional: 1800, sigma: 0.15 } }) });
    expect(run.recorder.effects).toContainEqual(
      expect.objectContaining({
        op: 'putHash',
        key: keys.portfolioHeat,
        fields: expect.objectContaining({ heat: '0.027', bucket: 'COLD' }),
      }),
    );
  });

  it('in shadow mode leaves the proposal hash alone', async () => {
    const run = await runHandler(heatGate, proposal(), { redis: portfolio('10000', {}) });
    expect(run.recorder.effects.some((e) => e.op === 'putHash' && e.key === keys.harvestProposal('ETHUSDT'))).toBe(false);
    expect(run.metrics.get('p26_hash_writes_total')).toBeUndefined();
  });

  it('in enforce mode overwrites the proposal hash with the calibrated action, TTL 300 s', async () => {
    const run = await runHandler(heatGate, proposal(), { env: { P26_MODE: 'enforce' }, redis: portfolio('10000', {}) });
    const write = run.recorder.effects.find((e) => e.op === 'putHash' && e.key === keys.harvestProposal('ETHUSDT'));
    expect(write).toMatchObject({
      ttlSec: 300,
      fields: { action: 'PARTIAL_25', original_action: 'FULL_CLOSE', plan_id: 'p1', calibrated: '1', calibrated_by: 'p26_heat_gate' },
    });
    // HSET over the kernel's hash, never a replace.
    expect(write).not.toHaveProperty('replace');
    expect(run.emitted(streams.harvestCalibrated)[0]).toMatchObject({ mode: 'enforce' });
    expect(run.metrics.get('p26_hash_writes_total')).toBe(1);
  });

  it('publishes the metrics of the seed', async () => {
    const run = await runHandler(heatGate, proposal(), {
      redis: portfolio('3000', { ETHUSDT: { notional: 1800, sigma: 0.15 }, BTCUSDT: { notional: 2000, sigma: 0.3 } }),
    });
    expect(run.metrics.get('p26_proposals_processed_total')).toBe(1);
    expect(run.metrics.get('p26_heat_value')).toBeCloseTo(0.29, 6);
    expect(run.metrics.get('p26_bucket', { state: 'WARM' })).toBe(1);
    expect(run.metrics.get('p26_bucket', { state: 'COLD' })).toBe(0);
    expect(
      run.metrics.get('p26_actions_downgraded_total', {
        from_action: 'FULL_CLOSE',
        to_action: 'PARTIAL_75',
        reason: 'portfolio_heat_warm',
      }),
    ).toBe(1);
    expect(run.metrics.get('p26_stream_lag_ms')).toBe(5); // the fake histogram keeps the last observation
  });

  it('rejects a proposal without an action, plan_id or a valid symbol, and takes any free text', () => {
    expect(
      heatGate.input.safeParse({
        plan_id: 'p',
        symbol: 'ETHUSDT',
        action: 'FULL_CLOSE',
        reason: 'r'.repeat(1500),
        trace_id: 't'.repeat(5000),
      }).success,
    ).toBe(true);
    expect(heatGate.input.safeParse({ plan_id: 'p', symbol: 'ETHUSDT' }).success).toBe(false);
    expect(heatGate.input.safeParse({ symbol: 'ETHUSDT', action: 'FULL_CLOSE' }).success).toBe(false);
    expect(heatGate.input.safeParse({ plan_id: 'p', symbol: 'eth usdt', action: 'FULL_CLOSE' }).success).toBe(false);
  });

  it('refuses HEAT_MIN ≥ HEAT_MAX at start-up, naming the variable', () => {
    expect(() => heatGate.config({ HEAT_MIN: '0.7', HEAT_MAX: '0.5' })).toThrow(/HEAT_MAX: must be greater than HEAT_MIN/);
    expect(() => heatGate.config({ P26_MODE: 'loud' })).toThrow(/P26_MODE/);
  });
});

describe('heat gate is monotonic (property)', () => {
  const aggressiveness = (action: string): number => {
    if (action === 'FULL_CLOSE' || action === 'FULL_CLOSE_PROPOSED') return 100;
    const partial = /^PARTIAL_(\d+)$/.exec(action);
    return partial ? Number(partial[1]) : -1;
  };

  it('never returns a more aggressive action than proposed, for any heat bucket (a data problem is COLD)', () => {
    const action = fc.oneof(
      fc.constantFrom('FULL_CLOSE', 'PARTIAL_25', 'PARTIAL_50', 'PARTIAL_75', 'HOLD', 'FULL_CLOSE_PROPOSED'),
      fc.stringMatching(/^[A-Z][A-Z0-9_]{0,10}$/),
    );
    const bucket = fc.constantFrom('COLD', 'WARM', 'HOT' as const);
    fc.assert(
      fc.property(action, bucket, (proposed, b) => {
        const { calibratedAction } = calibrate(proposed, b);
        if (proposed !== 'FULL_CLOSE' && proposed !== 'FULL_CLOSE_PROPOSED') return calibratedAction === proposed;
        return aggressiveness(calibratedAction) <= aggressiveness(proposed) && aggressiveness(calibratedAction) > 0;
      }),
      { numRuns: 2000 },
    );
  });

  it('through the whole handler, for arbitrary portfolios', async () => {
    const position = fc.record({
      notional: fc.double({ min: -1e7, max: 1e7, noNaN: true }),
      sigma: fc.double({ min: 0, max: 5, noNaN: true }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.double({ min: -1e6, max: 1e7, noNaN: true }), { nil: undefined }),
        fc.dictionary(fc.stringMatching(/^[A-Z]{3,6}USDT$/), position, { maxKeys: 6 }),
        fc.constantFrom('FULL_CLOSE', 'PARTIAL_25', 'PARTIAL_75'),
        async (equity, positions, action) => {
          const run = await runHandler(heatGate, proposal({ action }), {
            redis: portfolio(equity === undefined ? undefined : String(equity), positions),
          });
          const out = run.emitted(streams.harvestCalibrated)[0]!.calibrated_action!;
          expect(aggressiveness(out)).toBeLessThanOrEqual(aggressiveness(action));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('the heat check at start (batch.refresh), as the original P2.6 ran it', () => {
  // microservices/portfolio_heat_gate/main.py at 1370c1def, run() line 422: "Initial heat check",
  // _get_portfolio_heat() lines 153-164: a missing state or equity counts p26_failures_total once.
  async function refreshed(redis: FakeRedisData, runs: readonly boolean[]) {
    const config = heatGate.config({});
    const recorded = new RecordedMetrics();
    const metrics = heatGate.metrics(recordingMetricFactory(recorded), config);
    for (const first of runs) {
      const inputs = await heatGate.batch!.loadState!(new FakeRedisReader(redis), config, 1_800_000_000_000);
      heatGate.batch!.refresh!.apply(inputs, metrics, config, { first });
    }
    return recorded;
  }

  it.each([
    ['no portfolio state', portfolio(undefined, {}), 'portfolio_state_missing'],
    ['an equity of 0', portfolio('0', {}), 'invalid_equity'],
  ])('with %s counts p26_failures_total{reason="%s"} once, at the first run only', async (_case, redis, reason) => {
    const recorded = await refreshed(redis, [true, false, false]);
    expect(recorded.get('p26_failures_total', { reason })).toBe(1);
    expect(recorded.get('p26_heat_value')).toBeUndefined();
  });

  it('with a state it trusts counts nothing and sets the heat', async () => {
    const recorded = await refreshed(portfolio('10000', { ETHUSDT: { notional: 1800, sigma: 0.15 } }), [true]);
    expect([...recorded.values.keys()].filter((k) => k.startsWith('p26_failures_total'))).toEqual([]);
    expect(recorded.get('p26_heat_value')).toBeCloseTo(0.027, 6);
  });
});
