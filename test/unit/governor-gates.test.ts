import { describe, expect, it } from 'vitest';
import { limitsOf, parseGovernorConfig, type Limits } from '../../handlers/governor/config.js';
import {
  evaluate,
  killScoreCritical,
  maxPositionsReached,
  notionalPerTradeExceeded,
  notionalUnknown,
  p28BudgetViolation,
  planTooOld,
  rateLimit5Min,
  rateLimitHour,
  symbolCooldown,
  totalNotionalExceeded,
} from '../../handlers/governor/gates.js';
import type { PlanFacts } from '../../handlers/governor/plan.js';
import { gateReasons } from '../../handlers/governor/reasons.js';
import type { GovernorSnapshot } from '../../handlers/governor/snapshot.js';

const NOW = 1_800_000_000_000;
const defaults: Limits = limitsOf(parseGovernorConfig({}));

/** An open that passes every gate under the default limits. */
const open: PlanFacts = {
  planId: 'p-1',
  symbol: 'BTCUSDT',
  action: 'OPEN_LONG',
  isClose: false,
  killScore: 0.1,
  ageSec: 1,
  qty: 0.001,
  notional: 100,
};
const quiet: GovernorSnapshot = {
  now: NOW,
  killSwitch: false,
  disarmed: false,
  cooldown: undefined,
  execLastHour: 0,
  execLast5Min: 0,
  openPositions: 0,
  totalNotional: 0,
  symbolNotional: 0,
  markPrice: 100_000,
  budget: undefined,
  recentViolation: false,
};

describe('governor defaults', () => {
  it('uses the seed defaults for every cap', () => {
    expect(defaults).toEqual({
      maxPlanAgeSec: 300,
      killScoreCritical: 0.8,
      cooldownSec: 60,
      maxExecPerHour: 3,
      maxExecPer5Min: 2,
      maxOpenPositions: 10,
      maxNotionalPerTrade: 200,
      maxTotalNotional: 2000,
      p28Mode: 'shadow',
      p28BudgetMaxAgeSec: 60,
      p28ViolationWindowSec: 30,
    });
  });

  it('permits a small open on a quiet portfolio', () => {
    expect(evaluate(open, defaults, quiet)).toEqual({ kind: 'permit', reason: 'all_gates_passed' });
  });
});

describe('each gate at its boundary', () => {
  it.each([
    ['allows a plan exactly GOV_MAX_PLAN_AGE_SEC old', { ageSec: 300 }, undefined],
    ['blocks a plan a millisecond older than GOV_MAX_PLAN_AGE_SEC', { ageSec: 300.001 }, 'plan_too_old'],
    ['allows a plan from a clock running ahead', { ageSec: -5 }, undefined],
  ] as const)('plan age: %s', (_name, plan, expected) => {
    expect(planTooOld({ ...open, ...plan }, defaults, quiet)).toBe(expected);
  });

  it.each([
    ['allows a kill score just under the critical level', 0.7999, undefined],
    ['blocks a kill score exactly at the critical level', 0.8, 'kill_score_critical'],
    ['blocks a kill score over the critical level', 0.95, 'kill_score_critical'],
    ['allows a plan without a kill score', undefined, undefined],
  ] as const)('kill score: %s', (_name, killScore, expected) => {
    expect(killScoreCritical({ ...open, killScore }, defaults, quiet)).toBe(expected);
  });

  it.each([
    ['allows 2 executions in the last hour (this one is the 3rd, at the cap)', 2, undefined],
    ['blocks at 3 executions in the last hour (this one would be the 4th)', 3, 'rate_limit_hour'],
  ] as const)('hourly rate: %s', (_name, execLastHour, expected) => {
    expect(rateLimitHour(open, defaults, { ...quiet, execLastHour })).toBe(expected);
  });

  it.each([
    ['allows 1 execution in the last 5 minutes (this one is the 2nd, at the cap)', 1, undefined],
    ['blocks at 2 executions in the last 5 minutes', 2, 'rate_limit_5min'],
  ] as const)('5-minute rate: %s', (_name, execLast5Min, expected) => {
    expect(rateLimit5Min(open, defaults, { ...quiet, execLast5Min })).toBe(expected);
  });

  it.each([
    ['allows an open with 9 positions open', 9, undefined],
    ['blocks an open with 10 positions open (the seed: blocks if ≥ 10)', 10, 'max_positions_reached'],
  ] as const)('open positions: %s', (_name, openPositions, expected) => {
    expect(maxPositionsReached(open, defaults, { ...quiet, openPositions })).toBe(expected);
  });

  it.each([
    ['allows a trade exactly at $200', 200, undefined],
    ['blocks a trade a cent over $200', 200.01, 'notional_per_trade_exceeded'],
  ] as const)('notional per trade: %s', (_name, notional, expected) => {
    expect(notionalPerTradeExceeded({ ...open, notional }, defaults, quiet)).toBe(expected);
  });

  it.each([
    ['allows a trade that lands the total exactly on $2,000', 1800, 200, undefined],
    ['blocks a trade that takes the total a cent over $2,000', 1800, 200.01, 'total_notional_exceeded'],
    ['blocks any open once the portfolio is at $2,000 (the seed: blocks if ≥ $2,000)', 2000, 0, 'total_notional_exceeded'],
    ['allows a $0 open with the portfolio a cent under the cap', 1999.99, 0, undefined],
    ['blocks an open with the portfolio far over the cap (seed 001: $118,844)', 118_844.14, 0, 'total_notional_exceeded'],
  ] as const)('total notional: %s', (_name, totalNotional, notional, expected) => {
    expect(totalNotionalExceeded({ ...open, notional }, defaults, { ...quiet, totalNotional })).toBe(expected);
  });

  it.each([
    ['blocks while a cooldown key stands', { planId: 'p-0', untilMs: NOW + 48_800 }, 'symbol_cooldown'],
    ['allows when no cooldown stands', undefined, undefined],
  ] as const)('cooldown: %s', (_name, cooldown, expected) => {
    expect(symbolCooldown(open, defaults, { ...quiet, cooldown })).toBe(expected);
  });

  it('blocks an open it cannot price while a notional cap is on', () => {
    expect(notionalUnknown({ ...open, notional: undefined }, defaults, quiet)).toBe('notional_unknown');
  });

  it('lets an unpriced open through when every notional cap is off', () => {
    const off = { ...defaults, maxNotionalPerTrade: 0, maxTotalNotional: 0 };
    expect(notionalUnknown({ ...open, notional: undefined }, off, quiet)).toBeUndefined();
  });
});

describe('the P2.8 budget gate', () => {
  const enforce: Limits = { ...defaults, p28Mode: 'enforce' };
  const fresh = { budgetUsd: 1000, updatedAtMs: NOW - 5_000 };

  it.each([
    ['allows when position plus trade lands exactly on the budget', 900, 100, false, undefined],
    ['blocks when position plus trade exceeds the budget', 900, 100.01, false, 'p28_budget_violation'],
    ['blocks on a recent violation even under budget', 0, 10, true, 'p28_budget_violation'],
  ] as const)('in enforce mode %s', (_name, symbolNotional, notional, recentViolation, expected) => {
    expect(p28BudgetViolation({ ...open, notional }, enforce, { ...quiet, symbolNotional, recentViolation, budget: fresh })).toBe(expected);
  });

  it('fails open without a (fresh) budget, even with a violation on record', () => {
    expect(p28BudgetViolation({ ...open, notional: 1e6 }, enforce, { ...quiet, budget: undefined, recentViolation: true })).toBeUndefined();
  });

  it('never blocks in shadow mode', () => {
    expect(p28BudgetViolation({ ...open, notional: 1e6 }, defaults, { ...quiet, budget: fresh, recentViolation: true })).toBeUndefined();
  });
});

describe('0 disables a cap', () => {
  it.each([
    ['GOV_MAX_PLAN_AGE_SEC', { maxPlanAgeSec: 0 }, { ageSec: 1e9 }, {}],
    ['GOV_KILL_SCORE_CRITICAL', { killScoreCritical: 0 }, { killScore: 1 }, {}],
    ['GOV_SYMBOL_COOLDOWN_SECONDS', { cooldownSec: 0 }, {}, { cooldown: { planId: 'x', untilMs: NOW + 1000 } }],
    ['GOV_MAX_EXEC_PER_HOUR and GOV_MAX_EXEC_PER_5MIN', { maxExecPerHour: 0, maxExecPer5Min: 0 }, {}, { execLastHour: 99, execLast5Min: 99 }],
    ['GOV_MAX_OPEN_POSITIONS', { maxOpenPositions: 0 }, {}, { openPositions: 99 }],
    ['GOV_MAX_NOTIONAL_PER_TRADE_USDT and GOV_MAX_TOTAL_NOTIONAL_USDT', { maxNotionalPerTrade: 0, maxTotalNotional: 0 }, { notional: 1e9 }, { totalNotional: 1e9 }],
  ] as const)('%s = 0 lets the open through', (_name, limits, plan, snapshot) => {
    expect(evaluate({ ...open, ...plan }, { ...defaults, ...limits }, { ...quiet, ...snapshot })).toEqual({ kind: 'permit', reason: 'all_gates_passed' });
  });
});

describe('gate order', () => {
  /** A plan and snapshot that trip every gate at once. */
  const everything: [PlanFacts, GovernorSnapshot] = [
    { ...open, ageSec: 301, killScore: 0.9, notional: 5000 },
    {
      ...quiet,
      killSwitch: true,
      disarmed: true,
      cooldown: { planId: 'p-0', untilMs: NOW + 1000 },
      execLastHour: 3,
      execLast5Min: 2,
      openPositions: 10,
      totalNotional: 118_844,
      budget: { budgetUsd: 1, updatedAtMs: NOW },
      recentViolation: true,
    },
  ];
  const enforce: Limits = { ...defaults, p28Mode: 'enforce' };

  /** Clears the condition of each gate in turn; the next one in the table must then decide. */
  const clearers: Record<string, (p: PlanFacts, s: GovernorSnapshot) => [PlanFacts, GovernorSnapshot]> = {
    plan_too_old: (p, s) => [{ ...p, ageSec: 1 }, s],
    kill_switch_active: (p, s) => [p, { ...s, killSwitch: false }],
    disarmed: (p, s) => [p, { ...s, disarmed: false }],
    kill_score_critical: (p, s) => [{ ...p, killScore: 0 }, s],
    symbol_cooldown: (p, s) => [p, { ...s, cooldown: undefined }],
    rate_limit_hour: (p, s) => [p, { ...s, execLastHour: 0 }],
    rate_limit_5min: (p, s) => [p, { ...s, execLast5Min: 0 }],
    max_positions_reached: (p, s) => [p, { ...s, openPositions: 0 }],
    notional_unknown: (p, s) => [p, s],
    notional_per_trade_exceeded: (p, s) => [{ ...p, notional: 100 }, s],
    total_notional_exceeded: (p, s) => [p, { ...s, totalNotional: 0 }],
    p28_budget_violation: (p, s) => [p, { ...s, budget: undefined }],
  };

  it('applies the gates in the order of the design table', () => {
    let [plan, snapshot] = everything;
    const seen: string[] = [];
    for (;;) {
      const verdict = evaluate(plan, enforce, snapshot);
      if (verdict.kind === 'permit') break;
      seen.push(verdict.reason);
      [plan, snapshot] = clearers[verdict.reason]!(plan, snapshot);
    }
    expect(seen).toEqual(gateReasons.filter((r) => r !== 'notional_unknown'));
  });

  it('checks that an open can be priced before the notional caps', () => {
    expect(evaluate({ ...open, notional: undefined }, defaults, { ...quiet, totalNotional: 118_844 })).toEqual({ kind: 'block', reason: 'notional_unknown' });
  });
});

describe('closes', () => {
  const close: PlanFacts = { ...open, action: 'PARTIAL_75', isClose: true };
  const loaded: GovernorSnapshot = {
    ...quiet,
    disarmed: true,
    cooldown: { planId: 'p', untilMs: NOW + 1 },
    execLastHour: 9,
    execLast5Min: 9,
    openPositions: 25,
    totalNotional: 118_844,
  };

  it('bypass every fund cap, the disarm and the cooldown', () => {
    expect(evaluate({ ...close, killScore: 0.99, notional: 1e6 }, { ...defaults, p28Mode: 'enforce' }, { ...loaded, budget: { budgetUsd: 1, updatedAtMs: NOW } })).toEqual({
      kind: 'permit',
      reason: 'close_bypass',
    });
  });

  it('are still blocked by the kill switch', () => {
    expect(evaluate(close, defaults, { ...loaded, killSwitch: true })).toEqual({ kind: 'block', reason: 'kill_switch_active' });
  });

  it('are still blocked when too old (a replayed backlog never trades)', () => {
    expect(evaluate({ ...close, ageSec: 301 }, defaults, loaded)).toEqual({ kind: 'block', reason: 'plan_too_old' });
  });
});
