import { describe, expect, it } from 'vitest';
import { computeBudget, computeStress } from '../../domain/budget.js';
import { volRegimeFromLabel, volRegimeFromSigma, volRegimeOf } from '../../handlers/risk-budget/vol-regime.js';
import { choosePortfolioState, readPortfolioState } from '../../handlers/risk-budget/portfolio.js';
import { clusterStressOf, violationOf } from '../../handlers/risk-budget/plan.js';
import { parseRiskBudgetConfig } from '../../handlers/risk-budget/config.js';
import { ConfigError } from '../../schemas/env.js';

const weights = { alphaHeat: 0.4, betaCluster: 0.4, gammaVol: 0.2 };
const limits = { baseRiskPct: 0.02, minBudget: 500, maxBudget: 10_000 };

describe('stress and budget (compute_stress_factor, compute_budget)', () => {
  it('reproduces test 1 of seed 002: equity 100k, heat 0.65, normal vol → stress 0.326, budget 1348 (unrounded)', () => {
    const stress = computeStress({ heat: 0.65, clusterStress: 0, volRegime: 0.33 }, weights);
    expect(stress).toBe(0.4 * 0.65 + 0.4 * 0 + 0.2 * 0.33);
    expect(computeBudget(100_000, stress, limits)).toBe(100_000 * 0.02 * (1 - stress));
    expect(computeBudget(100_000, stress, limits)).toBeCloseTo(1348, 9);
  });

  it.each([
    { case: 'heat far above 1 saturates stress at 1', heat: 5, cluster: 0, vol: 0, stress: 1 },
    { case: 'cluster stress above 1 is not clamped on its own: the sum is', heat: 0, cluster: 3, vol: 0, stress: 1 },
    { case: 'negative inputs floor stress at 0', heat: -3, cluster: 0, vol: 0, stress: 0 },
    { case: 'calm inputs give 0', heat: 0, cluster: 0, vol: 0, stress: 0 },
    { case: 'NaN: min(1.0, nan) is 1.0 in Python', heat: Number.NaN, cluster: 0, vol: 0, stress: 1 },
  ])('clamps stress to [0, 1]: $case', ({ heat, cluster, vol, stress }) => {
    expect(computeStress({ heat, clusterStress: cluster, volRegime: vol }, weights)).toBe(stress);
  });

  it.each([
    { case: 'small equity is raised to MIN_BUDGET_K', equity: 10_000, stress: 0, budget: 500 },
    { case: 'zero equity gives MIN_BUDGET_K', equity: 0, stress: 0.3, budget: 500 },
    { case: 'negative equity gives MIN_BUDGET_K', equity: -5_000, stress: 0.3, budget: 500 },
    { case: 'full stress is raised to MIN_BUDGET_K', equity: 100_000, stress: 1, budget: 500 },
    { case: 'large equity is capped at MAX_BUDGET_K', equity: 1_000_000, stress: 0, budget: 10_000 },
    { case: 'just inside the maximum is not capped nor rounded', equity: 499_999, stress: 0, budget: 499_999 * 0.02 },
    { case: 'NaN equity: min(MAX, nan) is MAX in Python', equity: Number.NaN, stress: 0, budget: 10_000 },
    { case: 'infinite equity is capped', equity: Number.POSITIVE_INFINITY, stress: 0, budget: 10_000 },
  ])('clamps the budget to [MIN_BUDGET_K, MAX_BUDGET_K]: $case', ({ equity, stress, budget }) => {
    expect(computeBudget(equity, stress, limits)).toBe(budget);
  });
});

describe('vol regime (fetch_vol_regime)', () => {
  it.each([
    ['LOW_VOL', 0],
    ['low', 0],
    ['SLOW', 0],
    ['HIGH_VOL', 0.67],
    ['very_high_vol', 0.67],
    ['EXTREME_VOL', 1],
    ['EXTREME_LOW', 1],
    ['HIGH_LOW', 0.67],
  ])('a label naming EXTREME, HIGH or LOW decides: %s → %d', (label, value) => {
    expect(volRegimeFromLabel(label)).toBe(value);
    expect(volRegimeOf({ vol_regime: label, sigma: '0.5' })).toBe(value);
  });

  it.each(['', 'NORMAL_VOL', 'CALM'])('any other label (%j) falls back to sigma', (label) => {
    expect(volRegimeFromLabel(label)).toBeUndefined();
    expect(volRegimeOf({ vol_regime: label, sigma: '0.05' })).toBe(1);
  });

  it.each([
    [0, 0],
    [-0.01, 0],
    [0.004, 0],
    [0.005, 0.33],
    [0.02, 0.33],
    [0.0201, 0.67],
    [0.03, 0.67],
    [0.0301, 1],
    [Number.NaN, 0.33],
  ])('sigma %d → %d', (sigma, value) => {
    expect(volRegimeFromSigma(sigma)).toBe(value);
  });

  it.each<{ case: string; market: Record<string, string>; value: number }>([
    { case: 'no market hash', market: {}, value: 0.33 },
    { case: 'a hash without sigma (0.01 assumed)', market: { vol_regime: 'NORMAL_VOL' }, value: 0.33 },
    { case: 'a sigma float() rejects', market: { sigma: 'abc' }, value: 0.33 },
    { case: 'a sigma Python reads with underscores and spaces', market: { sigma: ' 0.0_5 ' }, value: 1 },
  ])('$case → $value', ({ market, value }) => {
    expect(volRegimeOf(market)).toBe(value);
  });
});

describe('cluster stress and violations', () => {
  it.each([
    [{}, 0],
    [{ other: '1' }, 0],
    [{ stress: '0.5' }, 0.5],
    [{ stress: '3' }, 3],
    [{ stress: '-1' }, -1],
    [{ stress: 'junk' }, 0],
  ])('stress of %j is %d, unclamped', (hash, value) => {
    expect(clusterStressOf(hash)).toBe(value);
  });

  it('a violation is notional − budget > 0, unrounded; equal is within budget', () => {
    expect(violationOf(1000.5, 1000)).toEqual({ position_notional: 1000.5, budget_usd: 1000, over_budget: 0.5 });
    expect(violationOf(1000, 1000)).toBeUndefined();
    expect(violationOf(undefined, 1000)).toBeUndefined();
  });
});

describe('portfolio state (fetch_portfolio_state)', () => {
  const nowMs = 1_800_000_000_000;
  const nowSec = nowMs / 1000;
  const state = (ageSec: number, equity = '100000') => ({ equity_usd: equity, drawdown: '0.01', timestamp: String(nowSec - ageSec) });
  const lkg = (savedAgoSec: number, equity = '90000.0') => ({
    equity_usd: equity,
    drawdown: '0.0',
    timestamp: String(nowSec - savedAgoSec - 5),
    saved_at: String(nowSec - savedAgoSec),
  });
  const lim = { staleSec: 30, maxLkgAgeSec: 900 };

  it.each([
    { case: 'a state 29 s old is fresh', age: 29, kind: 'fresh' },
    { case: 'a state exactly STALE_SEC old is not', age: 30, kind: 'lkg' },
    { case: 'a state in the future is fresh (age < STALE_SEC)', age: -3600, kind: 'fresh' },
  ])('$case', ({ age, kind }) => {
    expect(choosePortfolioState(state(age), lkg(10), nowMs, lim).kind).toBe(kind);
  });

  it.each<{ case: string; hash: Record<string, string>; read: unknown }>([
    {
      case: 'missing fields read as 0',
      hash: { timestamp: '5' },
      read: { kind: 'state', state: { equityUsd: 0, drawdown: 0, timestampSec: 5 } },
    },
    {
      case: 'zero equity is a state',
      hash: { equity_usd: '0', timestamp: '5' },
      read: { kind: 'state', state: { equityUsd: 0, drawdown: 0, timestampSec: 5 } },
    },
    { case: 'an empty hash is missing', hash: {}, read: { kind: 'missing' } },
    { case: 'junk equity is unreadable', hash: { equity_usd: 'x', timestamp: '5' }, read: { kind: 'unreadable', field: 'equity_usd' } },
    { case: 'junk drawdown is unreadable', hash: { drawdown: '', timestamp: '5' }, read: { kind: 'unreadable', field: 'drawdown' } },
    { case: 'int() rejects a float timestamp', hash: { timestamp: '1700000000.5' }, read: { kind: 'unreadable', field: 'timestamp' } },
  ])('reads the hash as float()/int() do: $case', ({ hash, read }) => {
    expect(readPortfolioState(hash)).toEqual(read);
  });

  type Row = {
    case: string;
    current: Record<string, string>;
    copy: Record<string, string>;
    kind: string;
    problem: string;
    tooOld?: boolean;
  };
  it.each<Row>([
    { case: 'stale state with a copy saved 100 s ago uses the copy', current: state(60), copy: lkg(100), kind: 'lkg', problem: 'stale' },
    { case: 'missing state with a copy saved 899 s ago uses the copy', current: {}, copy: lkg(899), kind: 'lkg', problem: 'missing' },
    {
      case: 'unreadable state with a fresh copy uses the copy',
      current: { equity_usd: 'x' },
      copy: lkg(100),
      kind: 'lkg',
      problem: 'unreadable',
    },
    {
      case: 'a copy saved exactly MAX_LKG_AGE_SEC ago is too old',
      current: state(60),
      copy: lkg(900),
      kind: 'none',
      problem: 'stale',
      tooOld: true,
    },
    {
      case: 'missing state and an old copy count as too old',
      current: {},
      copy: lkg(1000),
      kind: 'none',
      problem: 'missing',
      tooOld: true,
    },
    {
      case: 'unreadable state and an old copy are not counted as too old',
      current: { timestamp: '1.5' },
      copy: lkg(1000),
      kind: 'none',
      problem: 'unreadable',
      tooOld: false,
    },
    { case: 'no copy at all is not counted as too old', current: state(60), copy: {}, kind: 'none', problem: 'stale', tooOld: false },
  ])('$case', ({ current, copy, kind, problem, tooOld }) => {
    const choice = choosePortfolioState(current, copy, nowMs, lim);
    expect(choice.kind).toBe(kind);
    if (choice.kind !== 'fresh') expect(choice.problem).toBe(problem);
    if (choice.kind === 'lkg') expect(choice.state.equityUsd).toBe(90_000);
    if (choice.kind === 'none') expect(choice.lkgTooOld).toBe(tooOld);
  });
});

describe('risk-budget configuration', () => {
  it('has the seed defaults', () => {
    expect(parseRiskBudgetConfig({})).toEqual({
      P28_MODE: 'shadow',
      BASE_RISK_PCT: 0.02,
      ALPHA_HEAT: 0.4,
      BETA_CLUSTER: 0.4,
      GAMMA_VOL: 0.2,
      MIN_BUDGET_K: 500,
      MAX_BUDGET_K: 10_000,
      STALE_SEC: 30,
      MAX_LKG_AGE_SEC: 900,
      BUDGET_HASH_TTL_SEC: 300,
      BUDGET_COMPUTE_INTERVAL_SEC: 10,
      P28_TEST_MODE: false,
      POSITION_SNAPSHOT_STREAM: 'quantum:stream:position.snapshot',
      POSITION_SNAPSHOT_GROUP: 'position_snapshot',
      POSITION_BOOK_MAX_PENDING: 1000,
      POSITION_P33_PREFIXES: ['quantum:position:snapshot:', 'quantum:state:positions:'],
      POSITION_MAX_AGE_SEC: 120,
      PRICE_MAX_AGE_SEC: 30,
      PRICE_MAX_SKEW_SEC: 5,
    });
  });

  it('reports every bad variable by name', () => {
    const attempt = () => parseRiskBudgetConfig({ P28_MODE: 'loud', ALPHA_HEAT: '-1', HEAT_GATE_METRICS_URL: 'localhost:8056' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const text = (error as ConfigError).problems.join('\n');
      expect(text).toContain('P28_MODE');
      expect(text).toContain('ALPHA_HEAT');
      expect(text).toContain('HEAT_GATE_METRICS_URL');
    }
  });

  it('rejects MAX_BUDGET_K below MIN_BUDGET_K', () => {
    expect(() => parseRiskBudgetConfig({ MIN_BUDGET_K: '2000', MAX_BUDGET_K: '1000' })).toThrow(/MAX_BUDGET_K/);
  });

  it('turns test mode on with P28_TEST_MODE=1', () => {
    expect(parseRiskBudgetConfig({ P28_TEST_MODE: '1' }).P28_TEST_MODE).toBe(true);
  });
});
