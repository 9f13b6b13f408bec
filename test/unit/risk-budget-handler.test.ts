import { describe, expect, it } from 'vitest';
import type { Effect } from '../../runtime/engine/effects.js';
import { riskBudget } from '../../handlers/risk-budget/index.js';
import { loadBudgetInputs } from '../../handlers/risk-budget/inputs.js';
import { parseRiskBudgetConfig } from '../../handlers/risk-budget/config.js';
import { keys, streams } from '../../schemas/keys.js';
import { jobDoneKey } from '../../runtime/engine/idempotency.js';
import { runHandler } from '../support/fake-ctx.js';
import { FakeRedisReader, type FakeRedisData } from '../support/fake-redis-reader.js';

const NOW = 1_800_000_000_000;
const NOW_SEC = NOW / 1000;
const TICK = 'repeat:risk-budget:tick:1800000000000';

interface Position {
  readonly notional: number;
  readonly sigma?: number;
  readonly market?: Record<string, string>;
}

interface World {
  readonly equity?: number;
  /** Age of quantum:state:portfolio in seconds; null leaves it out. */
  readonly stateAgeSec?: number | null;
  readonly lkg?: { equity: number; ageSec: number };
  readonly positions?: Record<string, Position>;
  readonly clusters?: Record<string, string>;
  readonly strings?: Record<string, string>;
}

function redisOf(world: World): FakeRedisData {
  const hashes: Record<string, Record<string, string>> = {};
  const { equity = 100_000, stateAgeSec = 5, positions = {} } = world;
  if (stateAgeSec !== null)
    hashes[keys.portfolioState] = { equity_usd: String(equity), drawdown: '0.02', timestamp: String(NOW_SEC - stateAgeSec) };
  if (world.lkg) {
    const savedAt = NOW_SEC - world.lkg.ageSec;
    hashes[keys.budgetPortfolioLkg] = {
      equity_usd: String(world.lkg.equity),
      drawdown: '0.0',
      timestamp: String(savedAt - 1),
      saved_at: String(savedAt),
    };
  }
  for (const [symbol, p] of Object.entries(positions)) {
    hashes[keys.position(symbol)] = {
      symbol,
      position_notional_usd: String(p.notional),
      ...(p.sigma === undefined ? {} : { sigma: String(p.sigma) }),
    };
    if (p.market) hashes[keys.marketState(symbol)] = p.market;
  }
  for (const [id, stress] of Object.entries(world.clusters ?? {})) hashes[keys.clusterStress(id)] = { stress };
  return { hashes, sets: { [keys.activePositions]: Object.keys(positions) }, strings: world.strings ?? {} };
}

function run(world: World, env: Record<string, string> = {}) {
  return runHandler(riskBudget, { job_id: TICK }, { redis: redisOf(world), env, now: NOW });
}

function hashWritten(effects: readonly Effect[], key: string) {
  const effect = effects.find((e) => e.op === 'putHash' && e.key === key);
  return effect?.op === 'putHash' ? effect : undefined;
}

describe('risk-budget handler: seed 002 worked examples, written as the original writes them', () => {
  it('test 1: BTCUSDT 50k notional, equity 100k, heat 0.65 → the 10 fields, a violation', async () => {
    // heat = |50 000| × 1.3 / 100 000 = 0.65, by the heat gate's own formula
    const run1 = await run({ positions: { BTCUSDT: { notional: 50_000, sigma: 1.3, market: { vol_regime: 'NORMAL_VOL' } } } });

    const budget = hashWritten(run1.recorder.effects, keys.budget('BTCUSDT'));
    expect(budget?.ttlSec).toBe(300);
    expect(budget?.replace).toBeUndefined();
    // Python: str(2000.0 * (1.0 - 0.326)) is '1347.9999999999998'
    expect(budget?.fields).toEqual({
      symbol: 'BTCUSDT',
      budget_usd: '1347.9999999999998',
      stress_factor: '0.326',
      equity_usd: '100000.0',
      portfolio_heat: '0.65',
      cluster_stress: '0.0',
      vol_regime: '0.33',
      mode: 'shadow',
      timestamp: String(NOW_SEC),
      base_risk_pct: '0.02',
    });
    expect(run1.emitted(streams.budgetViolation)).toEqual([
      {
        json: `{"event_type": "budget.violation", "symbol": "BTCUSDT", "position_notional": 50000.0, "budget_usd": 1347.9999999999998, "over_budget": 48652.0, "mode": "shadow", "timestamp": ${NOW_SEC}}`,
      },
    ]);
    expect(run1.metrics.get('p28_budget_computed_total', { symbol: 'BTCUSDT' })).toBe(1);
    expect(run1.metrics.get('p28_budget_value_usd', { symbol: 'BTCUSDT' })).toBe(1347.9999999999998);
    expect(run1.metrics.get('p28_budget_blocks_total', { symbol: 'BTCUSDT' })).toBe(1);
  });

  it('test 2: heat 0.15, a position inside its budget → no violation, counted as allowed', async () => {
    const run2 = await run({ positions: { BTCUSDT: { notional: 1000, sigma: 15, market: { vol_regime: 'NORMAL_VOL' } } } });
    expect(hashWritten(run2.recorder.effects, keys.budget('BTCUSDT'))?.fields).toMatchObject({
      budget_usd: '1748.0',
      stress_factor: '0.126',
    });
    expect(run2.emitted(streams.budgetViolation)).toEqual([]);
    expect(run2.metrics.get('p28_budget_allow_total', { symbol: 'BTCUSDT' })).toBe(1);
  });
});

describe('risk-budget handler: inputs as the original reads them', () => {
  it('reads cluster stress from quantum:cluster:stress:default only, unclamped', async () => {
    const result = await run({
      positions: { BTCUSDT: { notional: 1, sigma: 0, market: { vol_regime: 'LOW', cluster_id: 'alts' } } },
      clusters: { default: '0.5', alts: '0.9' },
    });
    expect(hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields).toMatchObject({
      cluster_stress: '0.5',
      stress_factor: '0.2',
    });
    const high = await run({
      positions: { BTCUSDT: { notional: 1, sigma: 0, market: { vol_regime: 'LOW' } } },
      clusters: { default: '4' },
    });
    expect(hashWritten(high.recorder.effects, keys.budget('BTCUSDT'))?.fields).toMatchObject({
      cluster_stress: '4.0',
      stress_factor: '1.0',
      budget_usd: '500.0',
    });
  });

  it('computes zero and negative equity as MIN_BUDGET_K with the equity as read', async () => {
    const result = await run({ equity: -5, positions: { BTCUSDT: { notional: 1, sigma: 1 } } });
    expect(hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields).toMatchObject({
      equity_usd: '-5.0',
      budget_usd: '500.0',
      portfolio_heat: '0.0',
    });
  });

  it('computes a budget for a Position Ledger symbol without an open position, without a violation check', async () => {
    const base = redisOf({ positions: { BTCUSDT: { notional: 1, sigma: 1 } } });
    const data = { ...base, sets: { ...base.sets, [keys.p33PositionIndex]: ['SOLUSDT'] } };
    const result = await runHandler(riskBudget, { job_id: TICK }, { redis: data, now: NOW });
    expect(hashWritten(result.recorder.effects, keys.budget('SOLUSDT'))?.fields.symbol).toBe('SOLUSDT');
    expect(result.metrics.get('p28_budget_allow_total', { symbol: 'SOLUSDT' })).toBeUndefined();
  });
});

describe('risk-budget handler: portfolio state and last-known-good', () => {
  const positions = { BTCUSDT: { notional: 1, sigma: 1 }, ETHUSDT: { notional: 1, sigma: 1 } };

  it('uses fresh state and saves it as last-known-good in Redis, without a TTL', async () => {
    const result = await run({ positions });
    expect(hashWritten(result.recorder.effects, keys.budgetPortfolioLkg)).toMatchObject({
      fields: { equity_usd: '100000.0', drawdown: '0.02', timestamp: String(NOW_SEC - 5), saved_at: String(NOW_SEC) },
    });
    expect(hashWritten(result.recorder.effects, keys.budgetPortfolioLkg)?.ttlSec).toBeUndefined();
  });

  it('uses a copy saved within MAX_LKG_AGE_SEC when the state is stale, counting p28_lkg_cache_used_total per symbol', async () => {
    const result = await run({ stateAgeSec: 60, lkg: { equity: 50_000, ageSec: 600 }, positions });
    expect(hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields.equity_usd).toBe('50000.0');
    expect(result.metrics.get('p28_lkg_cache_used_total')).toBe(2);
    expect(result.metrics.get('p28_stale_input_total', { input_type: 'portfolio_state' })).toBeUndefined();
  });

  it.each([
    { case: 'the copy is too old', world: { stateAgeSec: 60, lkg: { equity: 1, ageSec: 901 } }, tooOld: 2 },
    { case: 'there is no copy', world: { stateAgeSec: 60 }, tooOld: undefined },
    { case: 'neither state nor copy exists', world: { stateAgeSec: null }, tooOld: undefined },
  ])('writes no budgets and counts p28_stale_input_total per symbol when $case', async ({ world, tooOld }) => {
    const result = await run({ ...world, positions });
    expect(result.recorder.effects.filter((e) => e.op === 'putHash')).toEqual([]);
    expect(result.metrics.get('p28_stale_input_total', { input_type: 'portfolio_state' })).toBe(2);
    expect(result.metrics.get('p28_portfolio_too_old_total')).toBe(tooOld);
  });
});

describe('risk-budget handler: heat source', () => {
  const data = redisOf({ positions: { BTCUSDT: { notional: 50_000, sigma: 1.3, market: { vol_regime: 'NORMAL' } } } });
  const inputs = () => loadBudgetInputs(new FakeRedisReader(data), parseRiskBudgetConfig({}), NOW);

  it('takes the scraped heat when HEAT_GATE_METRICS_URL is in use', async () => {
    const state = { ...(await inputs()), scrapedHeat: { ok: true as const, value: 0.15 } };
    const result = await runHandler(riskBudget, { job_id: TICK }, { redis: data, now: NOW, state });
    expect(hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields).toMatchObject({
      budget_usd: '1748.0',
      portfolio_heat: '0.15',
    });
  });

  it('falls back to heat 0.0 without counting anything when the scrape fails', async () => {
    const state = { ...(await inputs()), scrapedHeat: { ok: false as const, problem: 'unreachable' as const, detail: 'ECONNREFUSED' } };
    const result = await runHandler(riskBudget, { job_id: TICK }, { redis: data, now: NOW, state });
    expect(hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields).toMatchObject({
      portfolio_heat: '0.0',
      budget_usd: '1867.9999999999998',
    });
    expect(result.metrics.get('p28_stale_input_total', { input_type: 'portfolio_heat' })).toBeUndefined();
  });
});

describe('risk-budget handler: one computation per tick', () => {
  it('has the runtime mark the tick done, guarded so a second run of the same tick cannot commit', async () => {
    const result = await run({ positions: { BTCUSDT: { notional: 1 } } });
    expect(result.recorder.guards).toEqual([{ kind: 'absent', key: jobDoneKey('risk-budget', TICK) }]);
    const marker = result.recorder.effects.find((e) => e.op === 'setKey');
    expect(marker).toMatchObject({ key: jobDoneKey('risk-budget', TICK), ttlSec: 86_400 });
  });

  it('skips a tick that is already marked done, writing nothing', async () => {
    const result = await run({ positions: { BTCUSDT: { notional: 1 } }, strings: { [jobDoneKey('risk-budget', TICK)]: '1' } });
    expect(result.recorder.effects).toEqual([]);
    expect(result.recorder.guards).toEqual([]);
    expect(result.metrics.get('quantum_risk_budget_duplicate_ticks_total')).toBe(1);
  });

  it('publishes the mode at start', async () => {
    const { fakeCtx } = await import('../support/fake-ctx.js');
    const run1 = await fakeCtx(riskBudget, { env: { P28_MODE: 'enforce' } });
    expect(run1.metrics.get('p28_enforce_mode')).toBe(1);
  });
});

describe('risk-budget handler: last successful tick (the budgets-stale alert)', () => {
  const LAST_SUCCESS = 'quantum_risk_budget_last_success_timestamp_seconds';

  it('stamps the tick time once budgets are computed, also when no symbol is active', async () => {
    expect((await run({ positions: { BTCUSDT: { notional: 1, sigma: 1 } } })).metrics.get(LAST_SUCCESS)).toBe(NOW_SEC);
    expect((await run({})).metrics.get(LAST_SUCCESS)).toBe(NOW_SEC);
  });

  it('does not stamp a tick that wrote no budgets (portfolio state too old) or a duplicate tick', async () => {
    // 0 is its value from the start (see below): not stamped.
    expect((await run({ stateAgeSec: null, positions: { BTCUSDT: { notional: 1 } } })).metrics.get(LAST_SUCCESS)).toBe(0);
    const duplicate = await run({ positions: { BTCUSDT: { notional: 1 } }, strings: { [jobDoneKey('risk-budget', TICK)]: '1' } });
    expect(duplicate.metrics.get(LAST_SUCCESS)).toBe(0);
  });

  it('starts at 0, so a worker that never ticks shows as stale from its first scrape', async () => {
    const { fakeCtx } = await import('../support/fake-ctx.js');
    const started = await fakeCtx(riskBudget, {});
    expect(started.metrics.get(LAST_SUCCESS)).toBe(0);
  });
});
