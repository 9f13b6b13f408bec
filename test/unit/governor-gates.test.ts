import { describe, expect, it } from 'vitest';
import { limitsOf, parseGovernorConfig, pathLine, type Limits } from '../../handlers/governor/config.js';
import {
  burstLimitExceeded,
  dailyLimitExceeded,
  evaluate,
  hourlyLimitExceeded,
  killScoreCriticalNonClose,
  maxPositionsReached,
  notionalPerTradeExceeded,
  openUnpriced,
  planTimeUntrusted,
  p28BudgetViolation,
  pathGates,
  positionPriceUnknown,
  planTooOld,
  productionSize,
  redisMayEvict,
  symbolCooldown,
  totalNotionalExceeded,
} from '../../handlers/governor/gates.js';
import type { PlanFacts } from '../../handlers/governor/plan.js';
import { gateReasons } from '../../handlers/governor/reasons.js';
import type { GovernorSnapshot } from '../../handlers/governor/snapshot.js';

const NOW = 1_800_000_000_000;
const testnet: Limits = limitsOf(parseGovernorConfig({}));
const production: Limits = limitsOf(parseGovernorConfig({ APPLY_MODE: 'production' }));
const dryRun: Limits = limitsOf(parseGovernorConfig({ APPLY_MODE: 'dry_run' }));

/** An open that passes every gate under the default limits. */
const open: PlanFacts = {
  planId: 'p-1',
  symbol: 'BTCUSDT',
  action: 'OPEN_LONG',
  side: 'BUY',
  isClose: false,
  killScore: 0.1,
  age: { kind: 'age', ageSec: 1, entryAgeSec: 1 },
  ageSec: 1,
  pricing: { kind: 'priced', qty: 0.001, markPrice: 100_000, notional: 100 },
  qty: 0.001,
  notional: 100,
};
const quiet: GovernorSnapshot = {
  now: NOW,
  killSwitch: false,
  disarmed: false,
  disarmedToday: false,
  lastExecSec: undefined,
  execHistory: { type: 'none', times: [] },
  execLastHour: 0,
  execLast5Min: 0,
  openPositions: 0,
  totalNotional: 0,
  symbolNotional: 0,
  ownPosition: undefined,
  markPrice: 100_000,
  budget: undefined,
  recentViolation: false,
  dailyTotal: 0,
  dailyKey: 'quantum:governor:daily:BTCUSDT:2027-01-15',
  reservations: 0,
  reservedPositions: 0,
  reservedNotional: 0,
  oldestReservationAt: undefined,
  exitLockHolder: null,
};
const permit = (reason: string, computedQty = 0, computedNotional = 0) => ({ kind: 'permit', reason, computedQty, computedNotional });

describe('APPLY_MODE', () => {
  it.each([['testnet'], ['dry_run'], ['production']] as const)('%s takes its own path', (mode) => {
    expect(limitsOf(parseGovernorConfig({ APPLY_MODE: mode })).applyMode).toBe(mode);
  });

  it.each([['live'], ['TESTNET'], ['testnet ']])('%j is refused (the original took it as production, which has no fund caps)', (raw) => {
    expect(() => parseGovernorConfig({ APPLY_MODE: raw })).toThrow(/APPLY_MODE: must be exactly one of "testnet", "production", "dry_run"/);
  });

  it('the start line names the path and its caps', () => {
    expect(pathLine(parseGovernorConfig({}))).toBe(
      'APPLY_MODE=testnet: the testnet path, with fund caps: open positions 10, per trade $200, total $2000, symbol cooldown 60 s; the four closes bypass them',
    );
    expect(pathLine(parseGovernorConfig({ APPLY_MODE: 'production', GOV_MAX_EXEC_PER_HOUR: '0' }))).toBe(
      'APPLY_MODE=production: the production path, with no fund caps (open positions, per trade, total): executions per symbol off and 2/5 min, ' +
        'closed per symbol and day $5000 (unpriced: 0.02 qty), kill score 0.8, the P2.8 budget when it enforces, exit locks 120 s',
    );
    expect(pathLine(parseGovernorConfig({ APPLY_MODE: 'dry_run' }))).toMatch(/^APPLY_MODE=dry_run: .* with no caps$/);
  });

  it('defaults to testnet with the original defaults', () => {
    expect(testnet).toMatchObject({
      applyMode: 'testnet',
      killScoreCritical: 0.8,
      cooldownSec: 60,
      maxExecPerHour: 3,
      maxExecPer5Min: 2,
      maxReduceNotionalPerDay: 5000,
      maxReduceQtyPerDay: 0.02,
      maxOpenPositions: 10,
      maxNotionalPerTrade: 200,
      maxTotalNotional: 2000,
      totalCountsTrade: false,
      p28BlockOverBudget: false,
    });
  });

  it('keeps every reason in the closed set', () => {
    for (const path of Object.values(pathGates)) {
      for (const gate of [...path.always, ...path.opens]) {
        const reason = gate(
          { ...open, ageSec: 1e6, killScore: 1, notional: 1e9, side: 'BUY' },
          { ...production, maxPlanAgeSec: 1 },
          {
            ...quiet,
            killSwitch: true,
            disarmed: true,
            lastExecSec: NOW / 1000,
            execLastHour: 9,
            execLast5Min: 9,
            openPositions: 99,
            totalNotional: 1e9,
            dailyTotal: 1e9,
          },
        );
        if (reason !== undefined) expect(gateReasons).toContain(reason);
      }
    }
  });
});

describe('testnet path', () => {
  it('permits a small open on a quiet book with computed_qty and computed_notional 0.0', () => {
    expect(evaluate(open, testnet, quiet)).toEqual(permit('all_gates_passed'));
  });

  it('has no kill-score, hourly or burst gate', () => {
    expect(evaluate({ ...open, killScore: 0.99 }, testnet, { ...quiet, execLastHour: 50, execLast5Min: 50 })).toEqual(
      permit('all_gates_passed'),
    );
  });

  it.each(['FULL_CLOSE_PROPOSED', 'PARTIAL_75', 'PARTIAL_50', 'PARTIAL_25'])('%s bypasses the fund caps', (action) => {
    expect(
      evaluate({ ...open, action, isClose: true, notional: 1e9 }, testnet, {
        ...quiet,
        lastExecSec: NOW / 1000,
        totalNotional: 1e9,
        openPositions: 99,
      }),
    ).toEqual(permit('close_bypass'));
  });

  it('blocks a close too while the kill switch is on', () => {
    expect(evaluate({ ...open, isClose: true, action: 'PARTIAL_25' }, testnet, { ...quiet, killSwitch: true })).toEqual({
      kind: 'block',
      reason: 'kill_switch_active',
    });
  });

  it.each([
    ['blocks 59.9 s after the last execution', NOW / 1000 - 59.9, 'symbol_cooldown'],
    ['allows 60 s after', NOW / 1000 - 60, undefined],
    ['allows without last_exec', undefined, undefined],
  ] as const)('cooldown: %s', (_name, lastExecSec, expected) => {
    expect(symbolCooldown(open, testnet, { ...quiet, lastExecSec })).toBe(expected);
  });

  it.each([
    ['a BUY open with 10 positions', 'BUY', 10, 'max_positions_reached'],
    ['a LONG open with 10 positions', 'LONG', 10, 'max_positions_reached'],
    ['a BUY open with 9 positions', 'BUY', 9, undefined],
    ['a SELL open with 10 positions (the original checks BUY/LONG only)', 'SELL', 10, undefined],
    ['a lower-case buy open with 10 positions', 'buy', 10, undefined],
  ] as const)('max positions: %s', (_name, side, openPositions, expected) => {
    expect(maxPositionsReached({ ...open, side }, testnet, { ...quiet, openPositions })).toBe(expected);
  });

  it.each([
    ['allows a trade exactly at $200', 200, undefined],
    ['blocks a trade a cent over $200', 200.01, 'notional_per_trade_exceeded'],
  ] as const)('per trade: %s', (_name, notional, expected) => {
    expect(notionalPerTradeExceeded({ ...open, notional }, testnet, quiet)).toBe(expected);
  });

  it.each([
    ['allows $200 on a book of $1,999.99 (only the book counts, as the original)', 1999.99, 200, false, undefined],
    ['blocks once the book alone is at $2,000', 2000, 0, false, 'total_notional_exceeded'],
    ['with GOV_TOTAL_NOTIONAL_COUNTS_TRADE blocks $200 on $1,999.99', 1999.99, 200, true, 'total_notional_exceeded'],
    ['with GOV_TOTAL_NOTIONAL_COUNTS_TRADE allows landing exactly on the cap', 1800, 200, true, undefined],
  ] as const)('total: %s', (_name, totalNotional, notional, countsTrade, expected) => {
    expect(totalNotionalExceeded({ ...open, notional }, { ...testnet, totalCountsTrade: countsTrade }, { ...quiet, totalNotional })).toBe(
      expected,
    );
  });

  it('an open position no producer prices leaves the total unknown: opens blocked while the total cap is on, closes never (ours)', () => {
    const unpriced = { ...quiet, unpricedPositions: ['HELD0USDT'] };
    expect(positionPriceUnknown(open, testnet, unpriced)).toBe('position_price_unknown');
    expect(positionPriceUnknown(open, { ...testnet, maxTotalNotional: 0 }, unpriced)).toBeUndefined();
    expect(positionPriceUnknown(open, testnet, quiet)).toBeUndefined();
    expect(evaluate(open, testnet, unpriced)).toEqual({ kind: 'block', reason: 'position_price_unknown' });
    expect(evaluate({ ...open, action: 'FULL_CLOSE_PROPOSED', isClose: true }, testnet, unpriced)).toEqual(permit('close_bypass'));
  });

  it('blocks an open it cannot price, or whose figures disagree with the market, with the reason (ours)', () => {
    expect(
      openUnpriced(
        { ...open, pricing: { kind: 'block', reason: 'market_price_unknown', detail: '' }, notional: undefined },
        testnet,
        quiet,
      ),
    ).toBe('market_price_unknown');
    expect(
      openUnpriced(
        { ...open, pricing: { kind: 'block', reason: 'plan_notional_mismatch', detail: '' }, notional: undefined },
        testnet,
        quiet,
      ),
    ).toBe('plan_notional_mismatch');
    expect(openUnpriced(open, testnet, quiet)).toBeUndefined();
  });

  it.each(['testnet', 'production', 'dry_run'] as const)(
    'blocks an open whose time cannot be trusted on the %s path, and passes the close (clocks never keep a position open)',
    (mode) => {
      const limits = { ...testnet, applyMode: mode };
      const untrusted = { kind: 'block', reason: 'plan_time_in_future', detail: '', ageSec: 1, entryAgeSec: 1 } as const;
      const stampedAhead = { ...open, age: untrusted };
      expect(planTimeUntrusted(stampedAhead, limits, quiet)).toBe('plan_time_in_future');
      expect(evaluate(stampedAhead, limits, quiet)).toEqual({ kind: 'block', reason: 'plan_time_in_future' });
      const close = { ...stampedAhead, action: 'FULL_CLOSE_PROPOSED', isClose: true };
      expect(planTimeUntrusted(close, limits, quiet)).toBeUndefined();
      expect(evaluate(close, limits, quiet)).toMatchObject({ kind: 'permit' });
    },
  );

  it('never blocks on the P2.8 budget (the original logs it only)', () => {
    const budget = { budgetUsd: 1, updatedAtMs: NOW, mode: 'enforce' };
    expect(evaluate(open, testnet, { ...quiet, budget, recentViolation: true })).toEqual(permit('all_gates_passed'));
  });

  it('blocks a plan older than GOV_MAX_PLAN_AGE_SEC (ours)', () => {
    expect(planTooOld({ ...open, ageSec: 300.001 }, testnet, quiet)).toBe('plan_too_old');
  });

  it('blocks opens while disarmed, not closes (ours)', () => {
    expect(evaluate(open, testnet, { ...quiet, disarmed: true })).toEqual({ kind: 'block', reason: 'disarmed' });
    expect(evaluate({ ...open, isClose: true, action: 'PARTIAL_50' }, testnet, { ...quiet, disarmed: true })).toEqual(
      permit('close_bypass'),
    );
  });
});

describe('a Redis that may evict (issue #59 item 3, ours)', () => {
  const evicting = { ...quiet, redisMayEvict: 'volatile-ttl' };
  const closes = ['FULL_CLOSE_PROPOSED', 'PARTIAL_75', 'PARTIAL_50', 'PARTIAL_25'] as const;

  it('blocks every open with redis_may_evict on every path, and lets every close through as under disarm', () => {
    expect(redisMayEvict(open, testnet, evicting)).toBe('redis_may_evict');
    expect(redisMayEvict(open, testnet, quiet)).toBeUndefined();
    for (const limits of [testnet, production, dryRun]) {
      expect(evaluate(open, limits, evicting)).toEqual({ kind: 'block', reason: 'redis_may_evict' });
      expect(evaluate({ ...open, side: 'SELL', action: 'OPEN_SHORT' }, limits, evicting)).toEqual({
        kind: 'block',
        reason: 'redis_may_evict',
      });
      for (const action of closes) {
        const close = { ...open, isClose: true, action };
        expect(evaluate(close, limits, evicting)).toEqual(evaluate(close, limits, quiet));
        expect(evaluate(close, limits, evicting).kind).toBe('permit');
      }
    }
  });

  it('ranks after the kill switch and the disarm key, which say more', () => {
    expect(evaluate(open, testnet, { ...evicting, killSwitch: true })).toEqual({ kind: 'block', reason: 'kill_switch_active' });
    expect(evaluate(open, production, { ...evicting, disarmed: true })).toEqual({ kind: 'block', reason: 'disarmed' });
  });
});

describe('production path', () => {
  const enforceBudget = { budgetUsd: 1000, updatedAtMs: NOW - 5_000, mode: 'enforce' };

  it('blocks on a recent violation when the fresh budget hash says enforce', () => {
    expect(p28BudgetViolation(open, production, { ...quiet, budget: enforceBudget, recentViolation: true })).toBe('p28_budget_violation');
  });

  it.each([
    ['a shadow-mode budget', { ...enforceBudget, mode: 'shadow' }],
    ['no (fresh) budget', undefined],
  ] as const)('allows with %s, even with a violation on record', (_name, budget) => {
    expect(p28BudgetViolation(open, production, { ...quiet, budget, recentViolation: true })).toBeUndefined();
  });

  it('blocks over budget only with GOV_P28_BLOCK_OVER_BUDGET', () => {
    const over = { ...quiet, budget: enforceBudget, symbolNotional: 950 };
    expect(p28BudgetViolation(open, production, over)).toBeUndefined();
    expect(p28BudgetViolation(open, { ...production, p28BlockOverBudget: true }, over)).toBe('p28_budget_violation');
  });

  it.each([
    ['OPEN_LONG', 0.8, 'kill_score_critical_non_close'],
    ['PARTIAL_25', 0.9, 'kill_score_critical_non_close'],
    ['FULL_CLOSE_PROPOSED', 0.9, undefined],
    ['PARTIAL_75', 0.9, undefined],
    ['PARTIAL_50', 0.9, undefined],
    ['OPEN_LONG', 0.7999, undefined],
  ] as const)('kill score: %s at %s', (action, killScore, expected) => {
    expect(killScoreCriticalNonClose({ ...open, action, killScore }, production, quiet)).toBe(expected);
  });

  it.each([
    [2, undefined],
    [3, 'hourly_limit_exceeded'],
  ] as const)('hourly: %s executions in the hour', (execLastHour, expected) => {
    expect(hourlyLimitExceeded(open, production, { ...quiet, execLastHour })).toBe(expected);
  });

  it.each([
    [1, undefined],
    [2, 'burst_limit_exceeded'],
  ] as const)('burst: %s executions in 5 minutes', (execLast5Min, expected) => {
    expect(burstLimitExceeded(open, production, { ...quiet, execLast5Min })).toBe(expected);
  });

  it('sizes closes from the position: FULL 1, PARTIAL_75 0.75, PARTIAL_50 0.5, anything else 0.75', () => {
    const snapshot = { ...quiet, markPrice: 100, ownPosition: { symbol: 'BTCUSDT', notionalUsd: 200, qty: -2, markPrice: 100 } };
    expect(productionSize({ ...open, action: 'FULL_CLOSE_PROPOSED' }, snapshot)).toEqual({ qty: 2, notional: 200 });
    expect(productionSize({ ...open, action: 'PARTIAL_50' }, snapshot)).toEqual({ qty: 1, notional: 100 });
    expect(productionSize({ ...open, action: 'PARTIAL_25' }, snapshot)).toEqual({ qty: 1.5, notional: 150 });
    expect(productionSize({ ...open, action: 'FULL_CLOSE_PROPOSED' }, quiet)).toEqual({ qty: 0, notional: 0 });
  });

  it('fails the position fetch when the position has neither qty nor a price to derive it', () => {
    const snapshot = {
      ...quiet,
      markPrice: undefined,
      ownPosition: { symbol: 'BTCUSDT', notionalUsd: 200, qty: undefined, markPrice: undefined },
    };
    expect(evaluate(open, production, snapshot)).toEqual({ kind: 'block', reason: 'position_fetch_failed' });
  });

  it.each([
    ['notional: $4,900 + $200 > $5,000', 4900, 100, 'daily_limit_exceeded'],
    ['notional: $4,800 + $200 = $5,000', 4800, 100, undefined],
    ['qty (no price): 0.015 + 0.0075 > 0.02', 0.015, undefined, 'daily_limit_exceeded'],
  ] as const)('daily limit, %s', (_name, dailyTotal, markPrice, expected) => {
    const qty = markPrice === undefined ? 0.01 : 2;
    const snapshot = { ...quiet, dailyTotal, markPrice, ownPosition: { symbol: 'BTCUSDT', notionalUsd: 1, qty, markPrice } };
    expect(dailyLimitExceeded({ ...open, action: 'FULL_CLOSE_PROPOSED' }, production, snapshot)).toBe(
      expected === undefined ? undefined : expected,
    );
  });

  it('permits with the computed size', () => {
    const snapshot = { ...quiet, markPrice: 100, ownPosition: { symbol: 'BTCUSDT', notionalUsd: 4, qty: 0.04, markPrice: 100 } };
    expect(evaluate({ ...open, action: 'PARTIAL_50' }, production, snapshot)).toEqual(permit('all_gates_passed', 0.02, 2));
  });

  it('has no close bypass: a close over the hourly limit is blocked', () => {
    expect(evaluate({ ...open, action: 'FULL_CLOSE_PROPOSED', isClose: true }, production, { ...quiet, execLastHour: 3 })).toEqual({
      kind: 'block',
      reason: 'hourly_limit_exceeded',
    });
  });

  it('has no fund caps: a $1M open passes them', () => {
    expect(evaluate({ ...open, notional: 1e6 }, production, { ...quiet, totalNotional: 1e6, openPositions: 50 })).toEqual(
      permit('all_gates_passed'),
    );
  });
});

describe('dry_run path', () => {
  it('approves with 0.0 and 0.0', () => {
    expect(evaluate({ ...open, notional: 1e9, killScore: 1 }, dryRun, { ...quiet, execLastHour: 99, totalNotional: 1e9 })).toEqual(
      permit('dry_run'),
    );
  });
  it('still honours the kill switch (ours)', () => {
    expect(evaluate(open, dryRun, { ...quiet, killSwitch: true })).toEqual({ kind: 'block', reason: 'kill_switch_active' });
  });
});
