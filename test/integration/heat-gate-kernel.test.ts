import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { TransactionCommitter, type Committer } from '../../runtime/engine/commit.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys, streams } from '../../schemas/keys.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, pendingCount, produce, readStream, startRuntime, waitFor } from '../support/runtime.js';
import { afterRepliesSent, untilKeys } from '../support/until.js';

const GROUP = 'p26_heat_gate';

/**
 * What the Harvest Kernel's publisher writes for one proposal: HSET quantum:harvest:proposal:{symbol}
 * with `fields`, then XADD `{"symbol": symbol, **fields}` to quantum:stream:harvest.proposal
 * (upstream microservices/harvest_proposal_publisher/main.py at 73fab1f55 lines 393-429; the same
 * at 8f5055c52 lines 337-373). No plan_id, action or trace_id.
 */
function kernelFields(harvestAction: string, killScore: string, computedAt: string): Record<string, string> {
  return {
    harvest_action: harvestAction,
    new_sl_proposed: 'None',
    R_net: '2.41',
    risk_unit: '0.02',
    cost_est: '0.0008',
    kill_score: killScore,
    reason_codes: 'r_net_above_t3',
    k_regime_flip: '0.2',
    k_sigma_spike: '0.31',
    k_ts_drop: '0.124',
    k_age_penalty: '0.1',
    sigma: '0.0123',
    ts: '1773568800.5',
    p_trend: '0.6',
    p_mr: '0.25',
    p_chop: '0.15',
    computed_at_utc: computedAt,
    last_update_epoch: '1773568800',
    position_side: 'LONG',
    position_age_sec: '3600.0',
    position_current_price: '2012.5',
    position_entry_price: '1950.0',
    position_unrealized_pnl: '62.5',
  };
}

/**
 * The upstream Apply Layer at 73fab1f55, as far as the heat observer needs it: `get_harvest_proposal`
 * (microservices/apply_layer/main.py lines 1100-1105: `action` when calibrated == "1", else
 * harvest_action), `create_plan_id` (lines 1137-1142) and the observer's key
 * (microservices/apply_layer/heat_observer.py line 124, `f"{lookup_prefix}{plan_id}"`, prefix
 * P28_HEAT_LOOKUP_PREFIX default "quantum:harvest:heat:by_plan:", main.py line 850). Written
 * here independently of handlers/heat-gate/plan-id.ts; kill scores are chosen so toFixed(6) is Python's.
 */
function applyLayerHeatKey(symbol: string, hash: Record<string, string>): string {
  const action = hash.calibrated === '1' && hash.action ? hash.action : hash.harvest_action;
  const sl = hash.new_sl_proposed === undefined || Number.isNaN(Number(hash.new_sl_proposed)) ? 'None' : hash.new_sl_proposed;
  const fingerprint = `${symbol}:${action}:${Number(hash.kill_score).toFixed(6)}:${sl}:${hash.computed_at_utc ?? ''}`;
  return `quantum:harvest:heat:by_plan:${createHash('sha256').update(fingerprint).digest('hex').slice(0, 16)}`;
}

/**
 * A decision of upstream's other heat gate as deployed (rerouted into the proposal stream by
 * ops_ledger/OPS-2026-01-31-heat-gate-stream-fix.yaml): microservices/heat_gate/logic.py at
 * 73fab1f55 lines 279-294, failing closed.
 */
const otherHeatGateNoop = (symbol: string) => ({
  ts_epoch: '1773568801',
  symbol,
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
});

describe('heat gate on the Harvest Kernel’s proposals (real redis-server)', () => {
  const redis = usePrivateRedis();
  const runtimes: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((r) => r.stop()));
  });

  /** Equity 10000 and one ETHUSDT position 1800 × 0.15: heat 0.027, COLD. */
  async function coldPortfolio(): Promise<void> {
    await redis.client.hset(keys.portfolioState, 'equity_usd', '10000');
    await redis.client.hset(keys.position('ETHUSDT'), 'symbol', 'ETHUSDT', 'position_notional_usd', '1800', 'sigma', '0.15');
    await redis.client.sadd(keys.activePositions, 'ETHUSDT');
  }

  async function publish(symbol: string, fields: Record<string, string>): Promise<string> {
    await redis.client.hset(keys.harvestProposal(symbol), fields);
    return (await redis.client.xadd(streams.harvestProposal, '*', 'symbol', symbol, ...Object.entries(fields).flat()))!;
  }

  async function drained(count: number): Promise<void> {
    await waitFor(
      async () => {
        const [group = []] = (await redis.client.xinfo('GROUPS', streams.harvestProposal)) as unknown[][];
        const info: Record<string, unknown> = {};
        for (let i = 0; i + 1 < group.length; i += 2) info[String(group[i])] = group[i + 1];
        return info['entries-read'] === count && info.pending === 0;
      },
      { timeoutMs: 30_000, what: `${count} proposals read and acknowledged` },
    );
  }

  it.each(['enforce', 'shadow'])(
    '%s: decides kernel proposals, none dead-lettered; the Apply Layer’s heat observer finds each decision under its own plan_id',
    async (mode) => {
      await coldPortfolio();
      runtimes.push(await startRuntime(redis.url, { HANDLERS: 'heat-gate,heat-bridge', P26_MODE: mode }));
      const proposals: [string, string][] = [
        ['ETHUSDT', 'FULL_CLOSE_PROPOSED'],
        ['BTCUSDT', 'PARTIAL_75'],
        ['SOLUSDT', 'PARTIAL_25'],
        ['BNBUSDT', 'NONE'],
      ];
      for (const [i, [symbol, action]] of proposals.entries())
        await publish(symbol, kernelFields(action, `0.7${i}`, `2026-03-15T10:00:0${i}.000001`));
      await drained(proposals.length);
      expect(await redis.client.xlen(streams.deadLetter)).toBe(0);

      const calibrated = await readStream(redis.client, streams.harvestCalibrated);
      expect(calibrated.map((e) => [e.symbol, e.original_action, e.calibrated_action])).toEqual([
        ['ETHUSDT', 'FULL_CLOSE_PROPOSED', 'PARTIAL_25'],
        ['BTCUSDT', 'PARTIAL_75', 'PARTIAL_75'],
        ['SOLUSDT', 'PARTIAL_25', 'PARTIAL_25'],
        ['BNBUSDT', 'NONE', 'NONE'],
      ]);
      for (const [symbol] of proposals) {
        const hash = await redis.client.hgetall(keys.harvestProposal(symbol));
        const heatKey = applyLayerHeatKey(symbol, hash);
        // The bridge wrote the lookup the observer reads, from the decision's derived plan_id.
        const found = await untilKeys(
          redis.client,
          [heatKey],
          async () => ((await redis.client.exists(heatKey)) === 1 ? redis.client.hgetall(heatKey) : undefined),
          {
            what: `heat lookup ${heatKey}`,
          },
        );
        expect(found.symbol).toBe(symbol);
        expect(`quantum:harvest:heat:by_plan:${calibrated.find((e) => e.symbol === symbol)!.plan_id}`).toBe(heatKey);
      }
      // Enforce: the Apply Layer reads the calibration (and so builds its plan_id from it); shadow: the kernel's own.
      expect(await redis.client.hmget(keys.harvestProposal('ETHUSDT'), 'action', 'calibrated', 'harvest_action')).toEqual(
        mode === 'enforce' ? ['PARTIAL_25', '1', 'FULL_CLOSE_PROPOSED'] : [null, null, 'FULL_CLOSE_PROPOSED'],
      );
    },
  );

  it('counts the other heat gate’s NOOP decisions and never writes them over the kernel’s hash', async () => {
    await coldPortfolio();
    runtimes.push(await startRuntime(redis.url, { HANDLERS: 'heat-gate', P26_MODE: 'enforce' }));
    await publish('ETHUSDT', kernelFields('FULL_CLOSE_PROPOSED', '0.75', '2026-03-15T10:00:00.000001'));
    await produce(redis.client, streams.harvestProposal, [
      otherHeatGateNoop('ETHUSDT'),
      { symbol: 'ETHUSDT', plan_id: 'x', action: 'NOOP' },
    ]);
    await drained(3);
    expect(await redis.client.hmget(keys.harvestProposal('ETHUSDT'), 'action', 'calibrated', 'original_action')).toEqual([
      'PARTIAL_25',
      '1',
      'FULL_CLOSE_PROPOSED',
    ]);
    expect(await redis.client.xlen(streams.deadLetter)).toBe(0);
    expect(await redis.client.xlen(streams.harvestCalibrated)).toBe(1);
    const runtime = runtimes[0]!;
    // All three acknowledged (drained): counted by the replies of their commits, sent before this round trip's.
    await afterRepliesSent(redis.client);
    expect(await metricSum(runtime, 'quantum_heat_gate_unusable_entries_total', { reason: 'heat_gate_decision' })).toBe(1);
    expect(await metricSum(runtime, 'quantum_heat_gate_unusable_entries_total', { reason: 'unproposed_action' })).toBe(1);
    expect(await metricSum(runtime, 'quantum_gates_messages_total', { handler: 'heat-gate', outcome: 'unusable' })).toBe(2);
  });

  it('two enforce replicas over 20 symbols leave every hash with the newest proposal’s calibration', async () => {
    await coldPortfolio();
    const symbols = Array.from({ length: 20 }, (_, i) => `S${String(i).padStart(2, '0')}USDT`);
    // COLD: FULL_CLOSE_PROPOSED → PARTIAL_25; the kernel's partials and NONE stay.
    const cycle = ['FULL_CLOSE_PROPOSED', 'PARTIAL_50', 'NONE', 'PARTIAL_75'];
    const calibrationOf: Record<string, string> = {
      FULL_CLOSE_PROPOSED: 'PARTIAL_25',
      PARTIAL_50: 'PARTIAL_50',
      NONE: 'NONE',
      PARTIAL_75: 'PARTIAL_75',
    };
    const entries: Record<string, string>[] = [];
    const last: Record<string, string> = {};
    for (let round = 0; round < 15; round++) {
      for (const [i, symbol] of symbols.entries()) {
        const action = cycle[(round + i) % cycle.length]!;
        last[symbol] = action;
        entries.push({ symbol, ...kernelFields(action, '0.5', `2026-03-15T10:00:${String(round).padStart(2, '0')}.000001`) });
      }
    }
    const env = { HANDLERS: 'heat-gate', P26_MODE: 'enforce', BATCH_SIZE: '7' };
    // Replica A commits each batch a little late, so its older batches land after B's newer ones.
    const late = (connection: ConstructorParameters<typeof TransactionCommitter>[0]): Committer => {
      const inner = new TransactionCommitter(connection, 0);
      return {
        async commit(source, items) {
          await new Promise((r) => setTimeout(r, 5));
          return inner.commit(source, items);
        },
      };
    };
    runtimes.push(
      await startRuntime(redis.url, { ...env, CONSUMER_NAME: 'replica-a' }, undefined, { committerFactory: late }),
      await startRuntime(redis.url, { ...env, CONSUMER_NAME: 'replica-b' }),
    );
    await produce(redis.client, streams.harvestProposal, entries);
    await drained(entries.length);
    expect(await pendingCount(redis.client, streams.harvestProposal, GROUP)).toBe(0);
    for (const symbol of symbols) {
      expect([symbol, await redis.client.hmget(keys.harvestProposal(symbol), 'original_action', 'action', 'computed_at_utc')]).toEqual([
        symbol,
        [last[symbol], calibrationOf[last[symbol]!], '2026-03-15T10:00:14.000001'],
      ]);
    }
    expect(await redis.client.xlen(streams.deadLetter)).toBe(0);
  });

  it('an older proposal committed after a newer one (another replica) is acknowledged unapplied', async () => {
    await coldPortfolio();
    let release = () => undefined as void;
    const released = new Promise<void>((r) => (release = r));
    let holding = () => undefined as void;
    const held = new Promise<void>((r) => (holding = r));
    const slow = (connection: ConstructorParameters<typeof TransactionCommitter>[0]): Committer => {
      const inner = new TransactionCommitter(connection, 0);
      return {
        async commit(source, items) {
          if (items.some((i) => i.recorder !== undefined)) {
            holding();
            await released;
          }
          return inner.commit(source, items);
        },
      };
    };
    const env = { HANDLERS: 'heat-gate', P26_MODE: 'enforce', BATCH_SIZE: '1' };
    const a = await startRuntime(redis.url, { ...env, CONSUMER_NAME: 'replica-a' }, undefined, { committerFactory: slow });
    runtimes.push(a);
    try {
      await publish('ETHUSDT', kernelFields('FULL_CLOSE_PROPOSED', '0.75', '2026-03-15T10:00:00.000001'));
      await held; // replica A holding the older proposal
      // A reads nothing more until its held commit has applied: what comes next goes to B.
      runtimes.push(await startRuntime(redis.url, { ...env, CONSUMER_NAME: 'replica-b' }));
      await publish('BTCUSDT', kernelFields('NONE', '0.1', '2026-03-15T10:00:05.000001'));
      await publish('ETHUSDT', kernelFields('PARTIAL_50', '0.76', '2026-03-15T10:00:10.000001'));
      await untilKeys(
        redis.client,
        [keys.harvestProposal('ETHUSDT')],
        async () => (await redis.client.hget(keys.harvestProposal('ETHUSDT'), 'original_action')) === 'PARTIAL_50',
        { what: 'replica B calibrated the newer proposal' },
      );
    } finally {
      release();
    }
    await drained(3);
    expect(await redis.client.hmget(keys.harvestProposal('ETHUSDT'), 'original_action', 'action')).toEqual(['PARTIAL_50', 'PARTIAL_50']);
    // A's held commit acknowledged (drained): superseded is counted on its reply, sent before this round trip's.
    await afterRepliesSent(redis.client);
    expect(await metricSum(a, 'quantum_heat_gate_superseded_total')).toBe(1);
  });

  it('with an Apply Layer that reads harvest_action only (era seed), writes the calibration there, as a partial it executes', async () => {
    await coldPortfolio();
    runtimes.push(await startRuntime(redis.url, { HANDLERS: 'heat-gate', P26_MODE: 'enforce', P26_APPLY_LAYER_ERA: 'seed' }));
    await publish('ETHUSDT', kernelFields('FULL_CLOSE_PROPOSED', '0.75', '2026-03-15T10:00:00.000001'));
    await drained(1);
    expect(await redis.client.hmget(keys.harvestProposal('ETHUSDT'), 'harvest_action', 'action', 'original_action')).toEqual([
      'PARTIAL_50',
      'PARTIAL_50',
      'FULL_CLOSE_PROPOSED',
    ]);
  });

  it('publishes the heat at start, before any proposal', async () => {
    await redis.client.hset(keys.portfolioState, 'equity_usd', '3000');
    await redis.client.hset(keys.position('ETHUSDT'), 'symbol', 'ETHUSDT', 'position_notional_usd', '1800', 'sigma', '0.15');
    await redis.client.hset(keys.position('BTCUSDT'), 'symbol', 'BTCUSDT', 'position_notional_usd', '2000', 'sigma', '0.3');
    await redis.client.sadd(keys.activePositions, 'ETHUSDT', 'BTCUSDT');
    const runtime = await startRuntime(redis.url, { HANDLERS: 'heat-gate' });
    runtimes.push(runtime);
    const heat = await waitFor(async () => metricSum(runtime, 'p26_heat_value'), { what: 'p26_heat_value' });
    expect(heat).toBeCloseTo(0.29, 9);
    expect(await metricSum(runtime, 'p26_bucket', { state: 'WARM' })).toBe(1);
    expect(await metricSum(runtime, 'p26_proposals_processed_total')).toBe(0);
  });

  it('says from its first refresh when the heat is nowhere near the thresholds (issue #40: the alert in enforce mode)', async () => {
    // An upstream-scale book: the market state publisher's per-bar sigma on $1,866 of positions, $12,000 of equity: heat ≈ 0.0006.
    await redis.client.hset(keys.portfolioState, 'equity_usd', '12000');
    await redis.client.hset(keys.position('ETHUSDT'), 'symbol', 'ETHUSDT', 'position_notional_usd', '1000', 'sigma', '0.004');
    await redis.client.hset(keys.position('BTCUSDT'), 'symbol', 'BTCUSDT', 'position_notional_usd', '866', 'sigma', '0.0035');
    await redis.client.sadd(keys.activePositions, 'ETHUSDT', 'BTCUSDT');
    const defaults = await startRuntime(redis.url, { HANDLERS: 'heat-gate', P26_MODE: 'enforce' });
    runtimes.push(defaults);
    await waitFor(async () => (await metricSum(defaults, 'quantum_heat_gate_thresholds_unreached')) === 1, {
      what: 'thresholds unreached at 0.25 / 0.65',
    });
    expect(await metricSum(defaults, 'p26_enforce_mode')).toBe(1);
    expect(await metricSum(defaults, 'p26_heat_value')).toBeCloseTo((1000 * 0.004 + 866 * 0.0035) / 12000, 12);
    // Thresholds on the heat's scale: reached, no alert.
    const scaled = await startRuntime(redis.url, { HANDLERS: 'heat-gate', P26_MODE: 'enforce', HEAT_MIN: '0.0005', HEAT_MAX: '0.001' });
    runtimes.push(scaled);
    await waitFor(async () => (await metricSum(scaled, 'p26_heat_value')) > 0, { what: 'the scaled replica’s first heat' });
    expect(await metricSum(scaled, 'quantum_heat_gate_thresholds_unreached')).toBe(0);
  });
});
