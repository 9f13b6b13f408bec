import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../runtime/host/runtime.js';
import { calibratedEntrySchema, enforceHashSchema, heatDecisionEntrySchema, heatDecisionFields } from '../../schemas/heat-gate.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, startRuntime } from '../support/runtime.js';
import { afterRepliesSent, untilKeys, untilStream, untilStreamLength } from '../support/until.js';

/**
 * Golden cases from the original P2.6 heat gate, microservices/portfolio_heat_gate/main.py at
 * 1370c1def (`_process_proposal`, `_apply_gating_rule`, `_get_portfolio_heat`, `__init__`'s
 * metrics), and from the heat decision format of microservices/heat_gate/logic.py at 3eb5fe66b
 * (`process_harvest_proposal`), each through the real runtime against a private redis-server.
 * The second part holds the stricter rules of issue #12 item 7 (docs/migration.md lists each).
 */
describe('compat: P2.6 heat gate', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    snapshotSymbols = [];
  });

  let snapshotSymbols: string[] = [];
  /** Starts the gate with position-snapshot, and waits until the snapshots written before are applied. */
  const start = async (env: Record<string, string> = {}) => {
    runtime = await startRuntime(redis.url, { HANDLERS: 'position-snapshot,heat-gate', ...env });
    for (const symbol of snapshotSymbols)
      await untilKeys(redis.client, [keys.activePositions], () => redis.client.sismember(keys.activePositions, symbol), {
        what: `${symbol} applied`,
      });
    snapshotSymbols = [];
    return runtime;
  };
  const snapshot = async (symbol: string, notional: string, sigma?: string) => {
    await redis.client.xadd(
      streams.positionSnapshot,
      '*',
      'symbol',
      symbol,
      'position_notional_usd',
      notional,
      ...(sigma === undefined ? [] : ['sigma', sigma]),
    );
    snapshotSymbols.push(symbol);
  };
  const propose = (fields: Record<string, string>) => redis.client.xadd(streams.harvestProposal, '*', ...Object.entries(fields).flat());
  const calibratedFor = (planId: string) =>
    untilStream(redis.client, streams.harvestCalibrated, (entries) => entries.find((e) => e.plan_id === planId), {
      what: `calibrated ${planId}`,
    });
  const decisionFor = (planId: string) =>
    untilStream(redis.client, streams.heatDecision, (entries) => entries.find((e) => e.plan_id === planId), {
      what: `decision ${planId}`,
    });
  /**
   * A metric of the commit whose output the test saw: counted by the time that output is (the
   * commit's reply is handled by then, afterRepliesSent), so read, not waited for.
   */
  const committedMetric = async (name: string, labels: Record<string, string> = {}) => {
    await afterRepliesSent(redis.client);
    return metricSum(runtime!, name, labels);
  };
  const withoutId = ({ _id, ...fields }: Record<string, string>) => fields;
  const metricsText = async () => (await runtime!.server.inject({ method: 'GET', url: '/metrics' })).body;

  describe('the original, field by field', () => {
    it('writes the calibrated entry: eleven fields in order, calibrated "true", then the proposal fields except action', async () => {
      // `calibrated = {trace_id, plan_id, symbol, original_action, calibrated_action, heat_value,
      // heat_bucket, mode, calibrated: b"true", reason, timestamp}`, then
      // `for key in data: if key not in calibrated and key not in (b"action",)`.
      await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
      await snapshot('ETHUSDT', '1800', '0.15');
      await start();
      await propose({
        plan_id: 'g1',
        symbol: 'ETHUSDT',
        action: 'FULL_CLOSE',
        trace_id: 't-1',
        reason: 'tp_hit',
        harvest_action: 'FULL_CLOSE',
        kill_score: '0.42',
      });
      const entry = withoutId(await calibratedFor('g1'));
      expect(Object.keys(entry)).toEqual([
        'trace_id',
        'plan_id',
        'symbol',
        'original_action',
        'calibrated_action',
        'heat_value',
        'heat_bucket',
        'mode',
        'calibrated',
        'reason',
        'timestamp',
        'harvest_action',
        'kill_score',
      ]);
      // heat = 1800 × 0.15 / max(10000, 1.0); str(0.027) in Python is "0.027".
      expect(entry).toMatchObject({
        trace_id: 't-1',
        plan_id: 'g1',
        symbol: 'ETHUSDT',
        original_action: 'FULL_CLOSE',
        calibrated_action: 'PARTIAL_25',
        heat_value: '0.027',
        heat_bucket: 'COLD',
        mode: 'shadow',
        calibrated: 'true',
        reason: 'portfolio_heat_cold',
        harvest_action: 'FULL_CLOSE',
        kill_score: '0.42',
      });
      expect(entry.timestamp).toMatch(/^\d{10}$/);
      expect(calibratedEntrySchema.safeParse(entry).success).toBe(true);
    });

    it.each([
      // `_apply_gating_rule`: `if original_action.startswith("PARTIAL_"): return original_action, "partial_unchanged"`
      ['PARTIAL_50', '10000', 'PARTIAL_50', 'partial_unchanged', 'COLD'],
      ['PARTIAL_OPEN', '10000', 'PARTIAL_OPEN', 'partial_unchanged', 'COLD'],
      // `if original_action != "FULL_CLOSE": return original_action, "non_full_close_unchanged"`
      // Deliberately not the original: the Harvest Kernel's full close is FULL_CLOSE_PROPOSED (it never
      // writes FULL_CLOSE), which the original let through, so on real traffic it did nothing
      // (issue #22 item 4; docs/migration.md "Kernel proposals").
      ['FULL_CLOSE_PROPOSED', '10000', 'PARTIAL_25', 'portfolio_heat_cold', 'COLD'],
      ['HOLD', '10000', 'HOLD', 'non_full_close_unchanged', 'COLD'],
      ['full_close', '10000', 'full_close', 'non_full_close_unchanged', 'COLD'],
      // `if heat_bucket == "COLD": return "PARTIAL_25", "portfolio_heat_cold"` (heat 0.027)
      ['FULL_CLOSE', '10000', 'PARTIAL_25', 'portfolio_heat_cold', 'COLD'],
      // `elif heat_bucket == "WARM": return "PARTIAL_75", "portfolio_heat_warm"` (heat 0.27)
      ['FULL_CLOSE', '1000', 'PARTIAL_75', 'portfolio_heat_warm', 'WARM'],
      // `else: return "FULL_CLOSE", "portfolio_heat_hot"` (heat 2.7)
      ['FULL_CLOSE', '100', 'FULL_CLOSE', 'portfolio_heat_hot', 'HOT'],
    ])('%s at equity %s → %s (%s)', async (action, equity, calibrated, reason, bucket) => {
      await redis.client.hset(keys.portfolioState, 'equity_usd', equity);
      await snapshot('ETHUSDT', '1800', '0.15');
      await start();
      await propose({ plan_id: 'r1', symbol: 'ETHUSDT', action, trace_id: 't' });
      expect(await calibratedFor('r1')).toMatchObject({
        original_action: action,
        calibrated_action: calibrated,
        reason,
        heat_bucket: bucket,
        calibrated: 'true',
      });
      const downgraded = calibrated !== action ? 1 : 0;
      expect(await committedMetric('p26_proposals_processed_total')).toBe(1);
      // `self.metric_downgrades.labels(from_action=action, to_action=calibrated_action, reason=reason).inc()` only when downgraded.
      expect(await metricSum(runtime!, 'p26_actions_downgraded_total', { from_action: action, to_action: calibrated, reason })).toBe(
        downgraded,
      );
    });

    it('gives a proposal without trace_id a new UUID, the same in the calibrated entry and the enforce hash', async () => {
      // `trace_id = data.get(b"trace_id", str(uuid.uuid4()).encode()).decode()`
      await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
      await start({ P26_MODE: 'enforce' });
      await propose({ plan_id: 'u1', symbol: 'ETHUSDT', action: 'FULL_CLOSE' });
      const entry = await calibratedFor('u1');
      expect(entry.trace_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(await redis.client.hget(keys.harvestProposal('ETHUSDT'), 'trace_id')).toBe(entry.trace_id);
    });

    it.each([
      // `if not portfolio_state: ... labels(reason="portfolio_state_missing")`
      ['no portfolio state', undefined, 'portfolio_state_missing', 'portfolio_state_missing'],
      // `equity_usd = float(portfolio_state.get(b"equity_usd", 0) or 0)` then `if equity_usd <= 0: ... "invalid_equity"`
      ['equity 0', '0', 'invalid_equity', 'equity_not_positive'],
      ['equity -5', '-5', 'invalid_equity', 'equity_not_positive'],
      ['equity empty', '', 'invalid_equity', 'equity_missing'],
      // float("abc") raised inside `_get_portfolio_heat`: `labels(reason="heat_calculation_error")`
      ['equity abc', 'abc', 'heat_calculation_error', 'equity_not_a_number'],
    ])('fails closed on %s: FULL_CLOSE → PARTIAL_25 with the original reason and label', async (_name, equity, label, cause) => {
      if (equity !== undefined) await redis.client.hset(keys.portfolioState, 'equity_usd', equity);
      await start();
      await propose({ plan_id: 'f1', symbol: 'ETHUSDT', action: 'FULL_CLOSE', trace_id: 't' });
      expect(await calibratedFor('f1')).toMatchObject({
        calibrated_action: 'PARTIAL_25',
        heat_bucket: 'COLD',
        heat_value: '0.0',
        reason: 'portfolio_heat_cold',
        fail_closed_cause: cause,
      });
      // Twice: run()'s "Initial heat check" at start, then the proposal's own _get_portfolio_heat().
      expect(await committedMetric('p26_failures_total', { reason: label })).toBe(2);
      // The original never set the heat gauges on a failed heat (they are set after a computed one).
      expect(await metricsText()).not.toMatch(/^p26_bucket\{state="COLD"\} 1$/m);
    });

    it('in enforce mode HSETs exactly the original hash_data over the kernel hash, keeps its other fields, TTL 300', async () => {
      // `hash_data = {trace_id, plan_id, symbol, action: calibrated_action, original_action, heat_value,
      // heat_bucket, calibrated: "1", calibrated_by: "p26_heat_gate", downgrade_reason: reason, ts}`,
      // then the proposal's fields except `action`; `self.redis.hset(hash_key, mapping=hash_data)`; `expire(hash_key, 300)`.
      const key = keys.harvestProposal('ETHUSDT');
      await redis.client.hset(
        key,
        'harvest_action',
        'FULL_CLOSE',
        'kill_score',
        '0.3',
        'computed_at_utc',
        '2026-01-26T10:00:00Z',
        'reason_codes',
        'tp,age',
      );
      await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
      await start({ P26_MODE: 'enforce' });
      await propose({
        plan_id: 'e1',
        symbol: 'ETHUSDT',
        action: 'FULL_CLOSE',
        trace_id: 't-e1',
        reason: 'tp_hit',
        harvest_action: 'FULL_CLOSE',
      });
      await calibratedFor('e1');
      // Written in the commit that wrote the calibrated entry.
      const hash = await redis.client.hgetall(key);
      expect(hash).toEqual({
        trace_id: 't-e1',
        plan_id: 'e1',
        symbol: 'ETHUSDT',
        action: 'PARTIAL_25',
        original_action: 'FULL_CLOSE',
        heat_value: '0.0',
        heat_bucket: 'COLD',
        calibrated: '1',
        calibrated_by: 'p26_heat_gate',
        downgrade_reason: 'portfolio_heat_cold',
        ts: expect.stringMatching(/^\d{10}$/),
        // The proposal's own fields, carried; and the kernel's, untouched.
        reason: 'tp_hit',
        harvest_action: 'FULL_CLOSE',
        kill_score: '0.3',
        computed_at_utc: '2026-01-26T10:00:00Z',
        reason_codes: 'tp,age',
      });
      expect(enforceHashSchema.safeParse(hash).success).toBe(true);
      const ttl = await redis.client.ttl(key);
      expect(ttl).toBeGreaterThan(295);
      expect(ttl).toBeLessThanOrEqual(300);
      // The upstream Apply Layer (2907945a7, get_harvest_proposal): `is_calibrated = data.get("calibrated") == "1"`,
      // then the calibrated `action` over `harvest_action`.
      const applyLayerAction = hash.calibrated === '1' && hash.action ? hash.action : hash.harvest_action;
      expect(applyLayerAction).toBe('PARTIAL_25');
      expect(await committedMetric('p26_hash_writes_total')).toBe(1);
    });

    it('in shadow mode leaves the kernel hash untouched', async () => {
      await redis.client.hset(keys.harvestProposal('ETHUSDT'), 'harvest_action', 'FULL_CLOSE');
      await start();
      await propose({ plan_id: 's1', symbol: 'ETHUSDT', action: 'FULL_CLOSE', trace_id: 't' });
      await calibratedFor('s1');
      expect(await redis.client.hgetall(keys.harvestProposal('ETHUSDT'))).toEqual({ harvest_action: 'FULL_CLOSE' });
    });

    it('writes the heat decision in the thirteen fields of heat_gate/logic.py, in order', async () => {
      // `return {"ts_epoch", "symbol", "plan_id", "in_action", "out_action", "heat_level",
      // "heat_score": round(heat_score, 4), "heat_action", "recommended_partial", "reason": "ok",
      // "inputs_age_sec", "mode", "debug_json"}`
      await redis.client.hset(keys.portfolioState, 'equity_usd', '1000');
      await snapshot('ETHUSDT', '1800', '0.15');
      await start();
      await propose({ plan_id: 'd1', symbol: 'ETHUSDT', action: 'FULL_CLOSE', trace_id: 't' });
      const decision = withoutId(await decisionFor('d1'));
      // The thirteen, then ours (issue #40): every symbol's share of the heat and the time in ms.
      expect(Object.keys(decision)).toEqual([...heatDecisionFields, 'heat_by_symbol', 'decided_at_ms']);
      expect(decision).toMatchObject({
        symbol: 'ETHUSDT',
        plan_id: 'd1',
        in_action: 'FULL_CLOSE',
        out_action: 'PARTIAL_75',
        heat_level: 'warm',
        heat_score: '0.27',
        heat_action: 'DOWNGRADE_FULL_TO_PARTIAL',
        recommended_partial: '0.75',
        reason: 'ok',
        inputs_age_sec: '',
        mode: 'shadow',
      });
      expect(decision.debug_json!.length).toBeLessThanOrEqual(400);
      expect(JSON.parse(decision.debug_json!)).toMatchObject({ thresholds: { warm: 0.25, hot: 0.65 } });
      expect(heatDecisionEntrySchema.safeParse(decision).success).toBe(true);
    });

    it('declares every p26_* metric with the original name, type, help and labels', async () => {
      // `PortfolioHeatGate.__init__`; Histogram("p26_stream_lag_ms") on prometheus_client's default buckets.
      await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
      await start({ P26_MODE: 'enforce' });
      await propose({ plan_id: 'm1', symbol: 'ETHUSDT', action: 'FULL_CLOSE', trace_id: 't' });
      await calibratedFor('m1');
      expect(await committedMetric('p26_proposals_processed_total')).toBe(1);
      const text = await metricsText();
      for (const [name, type, help] of [
        ['p26_heat_value', 'gauge', 'Current portfolio heat value'],
        ['p26_bucket', 'gauge', 'Heat bucket state'],
        ['p26_actions_downgraded_total', 'counter', 'Total actions downgraded'],
        ['p26_stream_lag_ms', 'histogram', 'Stream processing lag in ms'],
        ['p26_proposals_processed_total', 'counter', 'Total proposals processed'],
        ['p26_failures_total', 'counter', 'Total processing failures'],
        ['p26_hash_writes_total', 'counter', 'Total hash writes to proposal keys'],
        ['p26_hash_write_fail_total', 'counter', 'Total hash write failures'],
        ['p26_enforce_mode', 'gauge', 'Enforce mode active (1=enforce, 0=shadow)'],
      ]) {
        expect(text).toContain(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
      }
      for (const le of ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf']) {
        expect(text).toContain(`p26_stream_lag_ms_bucket{le="${le}"}`);
      }
      expect(text).toMatch(/^p26_stream_lag_ms_count 1$/m);
      expect(text).toMatch(/^p26_enforce_mode 1$/m);
      expect(text).toMatch(
        /^p26_actions_downgraded_total\{from_action="FULL_CLOSE",to_action="PARTIAL_25",reason="portfolio_heat_cold"\} 1$/m,
      );
    });
  });

  describe('stricter than the original on untrusted data (issue #12 item 7)', () => {
    // "0x10" and " 10000 " rely on the shared number parser being strict (schemas/fields.ts
    // parseNumber → domain/number.ts on main, issue #12 item 1): on a branch without it they fail.
    it.each([
      // Python's float() took " 10000 " and "inf"; JS's Number() took "0x10" as 16 (→ HOT). None is a plain number.
      ['0x10', 'equity_not_a_number'],
      [' 10000 ', 'equity_not_a_number'],
      ['inf', 'equity_not_a_number'],
      ['nan', 'equity_not_a_number'],
    ])('equity %j fails closed with a cause (PARTIAL_25)', async (equity, cause) => {
      await redis.client.hset(keys.portfolioState, 'equity_usd', equity);
      await snapshot('ETHUSDT', '1800', '0.15');
      await start();
      await propose({ plan_id: 'x1', symbol: 'ETHUSDT', action: 'FULL_CLOSE', trace_id: 't' });
      expect(await calibratedFor('x1')).toMatchObject({
        calibrated_action: 'PARTIAL_25',
        reason: 'portfolio_heat_cold',
        fail_closed_cause: cause,
      });
      expect(await decisionFor('x1')).toMatchObject({ heat_level: 'unknown', reason: `compute_error:${cause}`, fail_closed_cause: cause });
      expect(await committedMetric('quantum_heat_gate_fail_closed_total', { cause })).toBe(1);
    });

    it('equity "1e-300" gives a finite heat: divided by max(equity, 1) as the original, never Infinity', async () => {
      await redis.client.hset(keys.portfolioState, 'equity_usd', '1e-300');
      await snapshot('ETHUSDT', '1800', '0.15');
      await start();
      await propose({ plan_id: 'x2', symbol: 'ETHUSDT', action: 'FULL_CLOSE', trace_id: 't' });
      const entry = await calibratedFor('x2');
      expect(entry).toMatchObject({ heat_value: '270.0', heat_bucket: 'HOT', calibrated_action: 'FULL_CLOSE' });
      expect(entry).not.toHaveProperty('heat_capped');
    });

    it('a notional of 1e300 caps the heat at 1e6 and flags it', async () => {
      await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
      await snapshot('ETHUSDT', '1e300', '0.5');
      await snapshot('BTCUSDT', '1e300', '0.5');
      await start();
      await propose({ plan_id: 'x3', symbol: 'ETHUSDT', action: 'FULL_CLOSE', trace_id: 't' });
      expect(await calibratedFor('x3')).toMatchObject({ heat_value: '1000000.0', heat_capped: 'true', heat_bucket: 'HOT' });
      expect(JSON.parse((await decisionFor('x3')).debug_json!)).toMatchObject({ heat_capped: true });
      expect(await committedMetric('quantum_heat_gate_heat_capped_total')).toBe(1);
      expect(await metricsText()).toMatch(/^p26_heat_value 1000000$/m);
    });

    it('$1M without sigma adds nothing to heat, is counted in a metric and named in debug_json', async () => {
      await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
      await snapshot('ETHUSDT', '1800', '0.15');
      await snapshot('SOLUSDT', '1000000');
      await start();
      await propose({ plan_id: 'x4', symbol: 'ETHUSDT', action: 'FULL_CLOSE', trace_id: 't' });
      expect(await calibratedFor('x4')).toMatchObject({ heat_value: '0.027', calibrated_action: 'PARTIAL_25' });
      expect(JSON.parse((await decisionFor('x4')).debug_json!)).toMatchObject({ no_sigma: ['SOLUSDT'], no_sigma_usd: 1_000_000 });
      expect(await committedMetric('quantum_heat_gate_positions_without_sigma')).toBe(1);
      expect(await metricSum(runtime!, 'quantum_heat_gate_notional_without_sigma_usd')).toBe(1_000_000);
    });

    it('a Position Ledger figure that is no number fails closed, naming it', async () => {
      await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
      await redis.client.hset(
        keys.p33PositionSnapshot('ETHUSDT'),
        'position_amt',
        '2',
        'mark_price',
        'n/a',
        'ts_epoch',
        String(Math.floor(Date.now() / 1000)),
      );
      await start();
      await propose({ plan_id: 'x5', symbol: 'ETHUSDT', action: 'FULL_CLOSE', trace_id: 't' });
      expect(await calibratedFor('x5')).toMatchObject({ calibrated_action: 'PARTIAL_25', fail_closed_cause: 'position_not_a_number' });
      expect(JSON.parse((await decisionFor('x5')).debug_json!)).toMatchObject({ untrusted: ['ETHUSDT.mark_price'] });
      // By the proposal, and by the heat check at start where that already found P3.3's position.
      const counted = await committedMetric('p26_failures_total', { reason: 'heat_calculation_error' });
      expect(counted).toBeGreaterThanOrEqual(1);
      expect(counted).toBeLessThanOrEqual(2);
    });

    it('enforce mode with a 1,500-character reason: calibrated, not dead-lettered; long text cut in the streams', async () => {
      const key = keys.harvestProposal('ETHUSDT');
      const kernelReason = 'k'.repeat(1500);
      await redis.client.hset(key, 'harvest_action', 'FULL_CLOSE', 'reason', kernelReason);
      await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
      await start({ P26_MODE: 'enforce' });
      await propose({
        plan_id: 'x6',
        symbol: 'ETHUSDT',
        action: 'FULL_CLOSE',
        trace_id: 't',
        reason: kernelReason,
        note: 'n'.repeat(1500),
      });
      const entry = await calibratedFor('x6');
      expect(entry.note).toHaveLength(1000);
      expect(await redis.client.hmget(key, 'calibrated', 'action', 'downgrade_reason')).toEqual(['1', 'PARTIAL_25', 'portfolio_heat_cold']);
      // A value that had to be cut is not written over the kernel's: its full text stays.
      expect(await redis.client.hget(key, 'reason')).toBe(kernelReason);
      expect(await redis.client.xlen(streams.deadLetter)).toBe(0);
      expect(await committedMetric('quantum_heat_gate_truncated_fields_total')).toBe(2);
    });

    it('enforce mode, a proposal it must refuse: dead-lettered, and the kernel hash left in its safe form', async () => {
      const key = keys.harvestProposal('ETHUSDT');
      await redis.client.hset(key, 'harvest_action', 'FULL_CLOSE', 'kill_score', '0.3');
      await start({ P26_MODE: 'enforce' });
      // No plan_id: the original acknowledged it and did nothing, leaving FULL_CLOSE in force.
      await propose({ symbol: 'ETHUSDT', action: 'FULL_CLOSE', trace_id: 't' });
      const [letter] = await untilStreamLength(redis.client, streams.deadLetter, 1);
      expect(letter).toMatchObject({ handler: 'heat-gate', reason: 'invalid_input' });
      expect(await redis.client.hgetall(key)).toMatchObject({
        harvest_action: 'FULL_CLOSE',
        kill_score: '0.3',
        calibrated: '1',
        calibrated_by: 'p26_heat_gate',
        action: 'PARTIAL_25',
        downgrade_reason: 'portfolio_heat_cold',
      });
      expect(await redis.client.ttl(key)).toBeGreaterThan(290);
      // Without an action in the entry, the kernel hash's own harvest_action is the one calibrated.
      await redis.client.del(key);
      await redis.client.hset(keys.harvestProposal('BTCUSDT'), 'harvest_action', 'FULL_CLOSE');
      await propose({ symbol: 'BTCUSDT', plan_id: 'no-action' });
      const btc = keys.harvestProposal('BTCUSDT');
      await untilKeys(redis.client, [btc], async () => (await redis.client.hget(btc, 'action')) === 'PARTIAL_25', {
        what: 'BTCUSDT safe form',
      });
    });
  });
});
