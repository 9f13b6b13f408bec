import { describe, expect, it } from 'vitest';
import { clamp01, computeBudget, computeStress } from '../../handlers/risk-budget/stress.js';
import { volRegimeFromLabel, volRegimeFromSigma, volRegimeOf } from '../../handlers/risk-budget/vol-regime.js';
import { choosePortfolioState, parsePortfolioState } from '../../handlers/risk-budget/portfolio.js';
import { parseRiskBudgetConfig } from '../../handlers/risk-budget/config.js';
import { ConfigError } from '../../runtime/env.js';

const weights = { alphaHeat: 0.4, betaCluster: 0.4, gammaVol: 0.2 };
const limits = { baseRiskPct: 0.02, minBudget: 500, maxBudget: 10_000 };

describe('stress and budget (seed 002 formula)', () => {
  it('reproduces test 1 of seed 002: equity 100k, heat 0.65, normal vol → stress 0.326, budget 1348', () => {
    const stress = computeStress({ heat: 0.65, clusterStress: 0, volRegime: 0.33 }, weights);
    expect(stress).toBeCloseTo(0.326, 12);
    expect(computeBudget(100_000, stress, limits)).toBe(1348);
  });

  it('reproduces test 2 of seed 002: equity 100k, heat 0.15, normal vol → stress 0.126, budget 1748', () => {
    const stress = computeStress({ heat: 0.15, clusterStress: 0, volRegime: 0.33 }, weights);
    expect(stress).toBeCloseTo(0.126, 12);
    expect(computeBudget(100_000, stress, limits)).toBe(1748);
  });

  it.each([
    { case: 'heat far above 1 saturates stress at 1', heat: 5, cluster: 0, vol: 0, stress: 1 },
    { case: 'all inputs at their maximum saturate at 1', heat: 1, cluster: 1, vol: 1, stress: 1 },
    { case: 'negative inputs floor stress at 0', heat: -3, cluster: 0, vol: 0, stress: 0 },
    { case: 'calm inputs give 0', heat: 0, cluster: 0, vol: 0, stress: 0 },
    { case: 'NaN counts as full stress', heat: Number.NaN, cluster: 0, vol: 0, stress: 1 },
  ])('clamps stress to [0, 1]: $case', ({ heat, cluster, vol, stress }) => {
    expect(computeStress({ heat, clusterStress: cluster, volRegime: vol }, weights)).toBe(stress);
  });

  it.each([
    { case: 'small equity is raised to MIN_BUDGET_K', equity: 10_000, stress: 0, budget: 500 },
    { case: 'full stress is raised to MIN_BUDGET_K', equity: 100_000, stress: 1, budget: 500 },
    { case: 'exactly the minimum stays', equity: 25_000, stress: 0, budget: 500 },
    { case: 'large equity is capped at MAX_BUDGET_K', equity: 1_000_000, stress: 0, budget: 10_000 },
    { case: 'exactly the maximum stays', equity: 500_000, stress: 0, budget: 10_000 },
    { case: 'just inside the maximum is not capped', equity: 499_999, stress: 0, budget: 9999.98 },
  ])('clamps the budget to [MIN_BUDGET_K, MAX_BUDGET_K]: $case', ({ equity, stress, budget }) => {
    expect(computeBudget(equity, stress, limits)).toBe(budget);
  });

  it('clamp01 leaves values inside [0, 1] alone', () => {
    expect(clamp01(0.5)).toBe(0.5);
  });
});

describe('vol regime mapping', () => {
  it.each([
    ['LOW', 0],
    ['LOW_VOL', 0],
    ['low_vol', 0],
    ['NORMAL', 0.33],
    ['NORMAL_VOL', 0.33],
    [' normal ', 0.33],
    ['HIGH', 0.67],
    ['HIGH_VOL', 0.67],
    ['EXTREME', 1],
    ['EXTREME_VOL', 1],
  ])('maps the label %s to %d', (label, value) => {
    expect(volRegimeFromLabel(label)).toBe(value);
    expect(volRegimeOf({ label, sigma: 0.5 })).toEqual({ value, source: 'label' });
  });

  it.each(['', 'CALM', 'VERY_HIGH_VOL', 'HIGHISH'])('does not recognise the label %j', (label) => {
    expect(volRegimeFromLabel(label)).toBeUndefined();
  });

  it.each([
    [0, 0],
    [0.004, 0],
    [0.005, 0.33],
    [0.01, 0.33],
    [0.02, 0.33],
    [0.0201, 0.67],
    [0.03, 0.67],
    [0.0301, 1],
    [0.5, 1],
  ])('maps sigma %d to %d when there is no usable label', (sigma, value) => {
    expect(volRegimeFromSigma(sigma)).toBe(value);
    expect(volRegimeOf({ label: 'UNKNOWN', sigma })).toEqual({ value, source: 'sigma' });
  });

  it.each([
    { case: 'no label and no sigma', label: undefined, sigma: undefined },
    { case: 'an unknown label and no sigma', label: 'WEIRD', sigma: undefined },
    { case: 'a negative sigma', label: undefined, sigma: -0.01 },
    { case: 'a non-finite sigma', label: undefined, sigma: Number.POSITIVE_INFINITY },
  ])('defaults to NORMAL (0.33) with $case', ({ label, sigma }) => {
    expect(volRegimeOf({ label, sigma })).toEqual({ value: 0.33, source: 'default' });
  });
});

describe('portfolio state choice (last-known-good)', () => {
  const nowMs = 1_800_000_000_000;
  const nowSec = nowMs / 1000;
  const state = (ageSec: number, equity = 100_000) => ({ equity_usd: String(equity), drawdown: '0.01', timestamp: String(nowSec - ageSec) });
  const lim = { staleSec: 30, maxLkgAgeSec: 900 };

  it.each([
    { case: 'a state 0 s old is fresh', age: 0, kind: 'fresh' },
    { case: 'a state 29 s old is fresh', age: 29, kind: 'fresh' },
    { case: 'a state exactly STALE_SEC old is stale', age: 30, kind: 'lkg' },
    { case: 'a state 20 s in the future (clock skew) is fresh', age: -20, kind: 'fresh' },
    { case: 'a state 60 s in the future is not fresh', age: -60, kind: 'lkg' },
  ])('$case', ({ age, kind }) => {
    expect(choosePortfolioState(state(age), state(10, 90_000), nowMs, lim).kind).toBe(kind);
  });

  type Row = { case: string; current: Record<string, string>; lkg: Record<string, string>; kind: string; problem: string };
  it.each<Row>([
    { case: 'stale state with a copy 100 s old uses the copy', current: state(60), lkg: state(100, 90_000), kind: 'lkg', problem: 'stale' },
    { case: 'missing state with a copy 899 s old uses the copy', current: {}, lkg: state(899, 90_000), kind: 'lkg', problem: 'missing' },
    { case: 'state without a timestamp uses the copy', current: { equity_usd: '100000' }, lkg: state(100), kind: 'lkg', problem: 'no_timestamp' },
    { case: 'state with zero equity uses the copy', current: state(1, 0), lkg: state(100), kind: 'lkg', problem: 'invalid_equity' },
    { case: 'a copy exactly MAX_LKG_AGE_SEC old is too old', current: state(60), lkg: state(900), kind: 'too_old', problem: 'stale' },
    { case: 'a copy 1000 s old is too old', current: {}, lkg: state(1000), kind: 'too_old', problem: 'missing' },
    { case: 'no copy at all is too old', current: state(60), lkg: {}, kind: 'too_old', problem: 'stale' },
  ])('$case', ({ current, lkg, kind, problem }) => {
    const choice = choosePortfolioState(current, lkg, nowMs, lim);
    expect(choice.kind).toBe(kind);
    if (choice.kind !== 'fresh') expect(choice.problem).toBe(problem);
    if (choice.kind === 'lkg') expect(choice.state.equityUsd).toBe(Number(lkg.equity_usd));
  });

  it('reads millisecond timestamps as well as seconds', () => {
    const parsed = parsePortfolioState({ equity_usd: '5', timestamp: String(nowMs) });
    expect(parsed).toMatchObject({ equityUsd: 5, timestampSec: nowSec });
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
