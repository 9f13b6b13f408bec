import { describe, expect, it } from 'vitest';
import type { Effect } from '../../runtime/effects.js';
import { riskBudget } from '../../handlers/risk-budget/index.js';
import { loadBudgetInputs } from '../../handlers/risk-budget/inputs.js';
import { parseRiskBudgetConfig } from '../../handlers/risk-budget/config.js';
import { keys, streams } from '../../schemas/keys.js';
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
  if (stateAgeSec !== null) hashes[keys.portfolioState] = { equity_usd: String(equity), drawdown: '0.02', timestamp: String(NOW_SEC - stateAgeSec) };
  if (world.lkg) hashes[keys.budgetPortfolioLkg] = { equity_usd: String(world.lkg.equity), drawdown: '0', timestamp: String(NOW_SEC - world.lkg.ageSec) };
  for (const [symbol, p] of Object.entries(positions)) {
    hashes[keys.position(symbol)] = { symbol, position_notional_usd: String(p.notional), ...(p.sigma === undefined ? {} : { sigma: String(p.sigma) }) };
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

const violations = (emitted: (stream: string) => Record<string, string>[]) =>
  emitted(streams.budgetViolation).map((fields) => JSON.parse(fields.json!) as Record<string, unknown>);

describe('risk-budget handler: seed 002 worked examples', () => {
  it('test 1: BTCUSDT 50k notional, equity 100k, heat 0.65 → budget 1348 and a violation', async () => {
    // heat = |50 000| × 1.3 / 100 000 = 0.65, by the heat gate's own formula
    const run1 = await run({ positions: { BTCUSDT: { notional: 50_000, sigma: 1.3, market: { vol_regime: 'NORMAL_VOL' } } } });

    const budget = hashWritten(run1.recorder.effects, keys.budget('BTCUSDT'));
    expect(budget?.ttlSec).toBe(300);
    expect(budget?.replace).toBe(true);
    expect(budget?.fields).toMatchObject({
      symbol: 'BTCUSDT',
      budget_usd: '1348',
      stress_factor: '0.326',
      equity_usd: '100000',
      portfolio_heat: '0.65',
      cluster_stress: '0',
      vol_regime: '0.33',
      mode: 'shadow',
      timestamp: String(NOW_SEC),
      base_risk_pct: '0.02',
      tick_id: TICK,
    });
    expect(violations(run1.emitted)).toEqual([
      { event_type: 'budget.violation', symbol: 'BTCUSDT', position_notional: 50_000, budget_usd: 1348, over_budget: 48_652, mode: 'shadow', timestamp: NOW_SEC },
    ]);
    expect(run1.metrics.get('p28_budget_computed_total', { symbol: 'BTCUSDT' })).toBe(1);
    expect(run1.metrics.get('p28_budget_value_usd', { symbol: 'BTCUSDT' })).toBe(1348);
    expect(run1.metrics.get('p28_stress_factor', { symbol: 'BTCUSDT' })).toBeCloseTo(0.326, 12);
  });

  it('test 2: equity 100k, heat 0.15, normal vol → budget 1748, a position inside it is no violation', async () => {
    // heat = 1000 × 15 / 100 000 = 0.15
    const run2 = await run({ positions: { ETHUSDT: { notional: 1000, sigma: 15 } } });
    expect(hashWritten(run2.recorder.effects, keys.budget('ETHUSDT'))?.fields).toMatchObject({ budget_usd: '1748', stress_factor: '0.126', portfolio_heat: '0.15' });
    expect(run2.emitted(streams.budgetViolation)).toEqual([]);
    expect(run2.metrics.get('p28_budget_allow_total', { symbol: 'ETHUSDT' })).toBe(1);
  });
});

describe('risk-budget handler: budgets for every active symbol', () => {
  it('writes one budget per active symbol, each with its own vol regime and cluster stress', async () => {
    const result = await run({
      positions: {
        BTCUSDT: { notional: 100, sigma: 0.01, market: { vol_regime: 'EXTREME_VOL', cluster_id: 'majors' } },
        ETHUSDT: { notional: 100, sigma: 0.01, market: { sigma: '0.001' } },
        SOLUSDT: { notional: 100, sigma: 0.01 },
      },
      clusters: { majors: '0.5' },
    });
    const fieldsOf = (symbol: string) => hashWritten(result.recorder.effects, keys.budget(symbol))?.fields;
    // heat = 3 × 100 × 0.01 / 100 000 = 3e-5
    expect(fieldsOf('BTCUSDT')).toMatchObject({ vol_regime: '1', cluster_stress: '0.5', vol_regime_source: 'label' });
    expect(fieldsOf('ETHUSDT')).toMatchObject({ vol_regime: '0', cluster_stress: '0', vol_regime_source: 'sigma' });
    expect(fieldsOf('SOLUSDT')).toMatchObject({ vol_regime: '0.33', cluster_stress: '0', vol_regime_source: 'default' });
    // BTC: stress = 0.4·3e-5 + 0.4·0.5 + 0.2·1 = 0.400012 → 2000 × 0.599988
    expect(fieldsOf('BTCUSDT')?.budget_usd).toBe('1199.98');
  });

  it.each([
    { case: 'a cluster stress above 1 is clamped to 1', stress: '3', written: '1' },
    { case: 'a negative cluster stress is clamped to 0', stress: '-0.5', written: '0' },
    { case: 'an unreadable cluster stress counts as 0', stress: 'n/a', written: '0' },
  ])('$case', async ({ stress, written }) => {
    const result = await run({ positions: { BTCUSDT: { notional: 1, market: { cluster_id: 'c1' } } }, clusters: { c1: stress } });
    expect(hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields.cluster_stress).toBe(written);
  });

  it('names a cluster that has no stress hash as stress 0', async () => {
    const result = await run({ positions: { BTCUSDT: { notional: 1, market: { cluster_id: 'ghost' } } } });
    expect(hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields.cluster_stress).toBe('0');
  });

  it.each([
    { case: 'small equity is raised to MIN_BUDGET_K', equity: 10_000, budget: '500' },
    { case: 'large equity is capped at MAX_BUDGET_K', equity: 5_000_000, budget: '10000' },
  ])('$case', async ({ equity, budget }) => {
    const result = await run({ equity, positions: { BTCUSDT: { notional: 1, market: { vol_regime: 'LOW' } } } });
    expect(hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields.budget_usd).toBe(budget);
  });

  it('writes nothing but the tick marker and the saved state when no symbol is active', async () => {
    const result = await run({ positions: {} });
    expect(result.recorder.effects.map((e) => e.op)).toEqual(['setKey', 'putHash']);
    expect(result.emitted(streams.budgetViolation)).toEqual([]);
  });
});

describe('risk-budget handler: violations', () => {
  it('uses |notional| for a short position', async () => {
    const result = await run({ positions: { BTCUSDT: { notional: -5000, sigma: 0.01 } } });
    expect(violations(result.emitted)[0]).toMatchObject({ position_notional: 5000 });
  });

  it('caps the violation stream near 1000 entries', async () => {
    const result = await run({ positions: { BTCUSDT: { notional: 50_000, sigma: 0.01 } } });
    const emit = result.recorder.effects.find((e) => e.op === 'emit');
    expect(emit?.op === 'emit' && emit.maxLen).toBe(1000);
  });

  it('does not count a position exactly at its budget as a violation', async () => {
    // heat 0 (no sigma), LOW vol, no cluster → stress 0 → budget 2000
    const result = await run({ positions: { BTCUSDT: { notional: 2000, market: { vol_regime: 'LOW' } } } });
    expect(hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields.budget_usd).toBe('2000');
    expect(result.emitted(streams.budgetViolation)).toEqual([]);
  });

  it('counts a violation as a block in enforce mode and as allowed in shadow mode', async () => {
    const world = { positions: { BTCUSDT: { notional: 50_000, sigma: 0.01 } } };
    const enforce = await run(world, { P28_MODE: 'enforce' });
    expect(enforce.metrics.get('p28_budget_blocks_total', { symbol: 'BTCUSDT' })).toBe(1);
    expect(violations(enforce.emitted)[0]).toMatchObject({ mode: 'enforce' });
    const shadow = await run(world);
    expect(shadow.metrics.get('p28_budget_blocks_total', { symbol: 'BTCUSDT' })).toBeUndefined();
    expect(shadow.metrics.get('p28_budget_allow_total', { symbol: 'BTCUSDT' })).toBe(1);
  });
});

describe('risk-budget handler: portfolio state and last-known-good', () => {
  const positions = { BTCUSDT: { notional: 50_000, sigma: 1.3, market: { vol_regime: 'NORMAL' } } };

  it('uses fresh state and saves it as last-known-good in Redis', async () => {
    const result = await run({ positions, stateAgeSec: 5 });
    const saved = hashWritten(result.recorder.effects, keys.budgetPortfolioLkg);
    expect(saved?.fields).toMatchObject({ equity_usd: '100000', drawdown: '0.02', timestamp: String(NOW_SEC - 5) });
    expect(saved?.ttlSec).toBe(900);
    expect(hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields.portfolio_source).toBe('fresh');
    expect(result.metrics.get('p28_lkg_cache_used_total')).toBeUndefined();
  });

  it('uses the last-known-good copy when the state is stale (the original never could), heat from the same equity', async () => {
    const result = await run({ positions, stateAgeSec: 60, equity: 999_999, lkg: { equity: 80_000, ageSec: 120 } });
    const fields = hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields;
    // heat = 50 000 × 1.3 / 80 000 = 0.8125 → stress 0.325 + 0.066 = 0.391 → 1600 × 0.609
    expect(fields).toMatchObject({ equity_usd: '80000', portfolio_heat: '0.8125', budget_usd: '974.4', portfolio_source: 'lkg' });
    expect(hashWritten(result.recorder.effects, keys.budgetPortfolioLkg)).toBeUndefined();
    expect(result.metrics.get('p28_lkg_cache_used_total')).toBe(1);
    expect(result.metrics.get('p28_stale_input_total', { input_type: 'portfolio_state' })).toBe(1);
  });

  it('uses the last-known-good copy when the state is missing', async () => {
    const result = await run({ positions, stateAgeSec: null, lkg: { equity: 100_000, ageSec: 600 } });
    expect(hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields).toMatchObject({ budget_usd: '1348', portfolio_source: 'lkg' });
    expect(result.metrics.get('p28_lkg_cache_used_total')).toBe(1);
  });

  it.each([
    { case: 'the copy is older than MAX_LKG_AGE_SEC', world: { stateAgeSec: 60, lkg: { equity: 100_000, ageSec: 901 } } },
    { case: 'there is no copy', world: { stateAgeSec: 60 } },
    { case: 'neither state nor copy exists', world: { stateAgeSec: null } },
  ])('writes no budgets and counts p28_portfolio_too_old_total when $case (fail-open)', async ({ world }) => {
    const result = await run({ positions, ...world });
    expect(result.recorder.effects.filter((e) => e.op !== 'setKey')).toEqual([]);
    expect(result.metrics.get('p28_portfolio_too_old_total')).toBe(1);
    expect(result.metrics.get('p28_stale_input_total', { input_type: 'portfolio_state' })).toBe(1);
    expect(result.metrics.get('p28_budget_computed_total', { symbol: 'BTCUSDT' })).toBeUndefined();
  });
});

describe('risk-budget handler: heat source', () => {
  const data = redisOf({ positions: { BTCUSDT: { notional: 50_000, sigma: 1.3, market: { vol_regime: 'NORMAL' } } } });
  const inputs = () => loadBudgetInputs(new FakeRedisReader(data), parseRiskBudgetConfig({}));

  it('takes the scraped heat when HEAT_GATE_METRICS_URL is in use', async () => {
    const state = { ...(await inputs()), scrapedHeat: { ok: true as const, value: 0.15, metric: 'portfolio_heat_composite_normalized' as const } };
    const result = await runHandler(riskBudget, { job_id: TICK }, { redis: data, now: NOW, state });
    expect(hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields).toMatchObject({ budget_usd: '1748', heat_source: 'scraped' });
  });

  it('falls back to heat 0.0 and counts a stale input when the scrape fails', async () => {
    const state = { ...(await inputs()), scrapedHeat: { ok: false as const, problem: 'unreachable' as const, detail: 'ECONNREFUSED' } };
    const result = await runHandler(riskBudget, { job_id: TICK }, { redis: data, now: NOW, state });
    expect(hashWritten(result.recorder.effects, keys.budget('BTCUSDT'))?.fields).toMatchObject({ portfolio_heat: '0', heat_source: 'fallback', budget_usd: '1868' });
    expect(result.metrics.get('p28_stale_input_total', { input_type: 'portfolio_heat' })).toBe(1);
  });
});

describe('risk-budget handler: one computation per tick', () => {
  it('marks the tick done, guarded so a second run of the same tick cannot commit', async () => {
    const result = await run({ positions: { BTCUSDT: { notional: 1 } } });
    expect(result.recorder.guards).toEqual([{ kind: 'absent', key: keys.budgetTickDone(TICK) }]);
    const marker = result.recorder.effects.find((e) => e.op === 'setKey');
    expect(marker).toMatchObject({ key: keys.budgetTickDone(TICK), ttlSec: 300 });
  });

  it('skips a tick that is already marked done, writing nothing', async () => {
    const result = await run({ positions: { BTCUSDT: { notional: 1 } }, strings: { [keys.budgetTickDone(TICK)]: '1' } });
    expect(result.recorder.effects).toEqual([]);
    expect(result.recorder.guards).toEqual([]);
    expect(result.metrics.get('quantum_risk_budget_duplicate_ticks_total')).toBe(1);
  });

  it('publishes the mode at start', async () => {
    const { fakeCtx } = await import('../support/fake-ctx.js');
    const run1 = await fakeCtx(riskBudget, { env: { P28_MODE: 'enforce' } });
    riskBudget.onStart?.(run1.ctx.config, run1.ctx.metrics);
    run1.commit();
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
    expect((await run({ stateAgeSec: null, positions: { BTCUSDT: { notional: 1 } } })).metrics.get(LAST_SUCCESS)).toBeUndefined();
    const duplicate = await run({ positions: { BTCUSDT: { notional: 1 } }, strings: { [keys.budgetTickDone(TICK)]: '1' } });
    expect(duplicate.metrics.get(LAST_SUCCESS)).toBeUndefined();
  });

  it('starts at 0, so a worker that never ticks shows as stale from its first scrape', async () => {
    const { fakeCtx } = await import('../support/fake-ctx.js');
    const started = await fakeCtx(riskBudget, {});
    riskBudget.onStart?.(started.ctx.config, started.ctx.metrics);
    started.commit();
    expect(started.metrics.get(LAST_SUCCESS)).toBe(0);
  });
});
