import { describe, expect, it } from 'vitest';
import { compareBudgetTicks } from '../../cli/shadow/budget-pair.js';
import { DOCUMENTED_DIFFERENCES } from '../../cli/shadow/documented.js';
import { settle, type Decided } from '../../cli/shadow/pair.js';
import { asBudgetTick } from '../../cli/shadow/taped-tick.js';

const HASH = {
  budget_usd: '1000.0',
  stress_factor: '0.0',
  equity_usd: '50000.0',
  portfolio_heat: '0.0',
  cluster_stress: '0.0',
  vol_regime: '0.0',
  mode: 'shadow',
  timestamp: '1800000000',
  base_risk_pct: '0.02',
};

/** A budget tick as the tape and the shadow record one: a putHash of each symbol's budget. */
function tick(id: string, budgets: Record<string, Partial<typeof HASH>>, extra: Partial<Decided> = {}): Decided {
  return {
    gate: 'risk-budget',
    id,
    producedAt: Number.parseInt(id, 10),
    raw: {},
    outcome: 'handled',
    effects: Object.entries(budgets).map(([symbol, fields]) => ({
      op: 'putHash',
      key: `quantum:portfolio:budget:${symbol}`,
      fields: { symbol, ...HASH, ...fields },
      ttlSec: 300,
    })),
    jobs: [],
    ...extra,
  };
}

const one = (incumbent: Decided, shadow: Decided, kind: 'current' | 'python' = 'current') =>
  settle(
    new Map([[incumbent.id, incumbent]]),
    new Map([[shadow.id, shadow]]),
    { incumbent: kind, documented: DOCUMENTED_DIFFERENCES },
    0,
    0,
  ).pairs[0]!;

describe('a budget tick paired with the incumbent’s of its period', () => {
  it('names a taped tick by the period its job was scheduled for (the job id), not by when its hash was stamped', () => {
    const taped = tick('repeat:risk-budget:tick:1800000019990', { BTCUSDT: {} }, { producedAt: 1_800_000_009_990 });
    expect(asBudgetTick(taped, 10_000)).toMatchObject({ id: '1800000010000-0', producedAt: 1_800_000_010_000 });
    const noId = tick('x', {}, { raw: { scheduled_at: '1800000025000' } });
    expect(asBudgetTick(noId, 10_000).id).toBe('1800000020000-0');
  });

  it('is the same where the same inputs give the same budgets, Python’s "1000.0" and ours "1000" alike', () => {
    const pair = one(tick('10-0', { BTCUSDT: {}, ETHUSDT: {} }), tick('10-0', { BTCUSDT: { budget_usd: '1000' }, ETHUSDT: {} }));
    expect(pair).toMatchObject({ class: 'same', incumbent: '2 budgets', shadow: '2 budgets', label: 'tick 10-0' });
  });

  it('does not compare figures whose inputs moved between the two ticks, only the symbols and settings', () => {
    const moved = { equity_usd: '51000.0', budget_usd: '1020.0' };
    expect(one(tick('10-0', { BTCUSDT: {} }), tick('10-0', { BTCUSDT: moved })).class).toBe('same');
    expect(compareBudgetTicks(tick('10-0', { BTCUSDT: {} }), tick('10-0', { BTCUSDT: moved })).changes).toEqual([]);
  });

  it('calls another budget on the same inputs unexplained (planted: another base risk), naming the symbol and both words', () => {
    const pair = one(
      tick('10-0', { BTCUSDT: {}, ETHUSDT: {} }),
      tick('10-0', { BTCUSDT: { base_risk_pct: '0.03', budget_usd: '1500.0' }, ETHUSDT: {} }),
    );
    expect(pair).toMatchObject({
      class: 'unexplained',
      incumbent: 'BTCUSDT: budget mode=shadow base_risk_pct=0.02 budget_usd=1000 stress_factor=0',
      shadow: 'BTCUSDT: budget mode=shadow base_risk_pct=0.03 budget_usd=1500 stress_factor=0',
    });
  });

  it('documents a symbol only ours budgets beside Python (docs/migration.md "budget symbols"), and not beside our own release', () => {
    const [incumbent, shadow] = [tick('10-0', { BTCUSDT: {} }), tick('10-0', { BTCUSDT: {}, ETHUSDT: {} })];
    expect(one(incumbent, shadow, 'python')).toMatchObject({ class: 'documented', row: 'budget symbols' });
    expect(one(incumbent, shadow, 'current').class).toBe('unexplained');
    // A symbol the original budgets and ours does not is not documented.
    expect(one(shadow, incumbent, 'python').class).toBe('unexplained');
  });

  it('calls a tick that failed on one side unexplained, and names a tick only one side made', () => {
    expect(one(tick('10-0', { BTCUSDT: {} }), tick('10-0', {}, { outcome: 'fallback' })).class).toBe('unexplained');
    const { unpaired } = settle(
      new Map(),
      new Map([['20-0', tick('20-0', { BTCUSDT: {} })]]),
      { incumbent: 'current', documented: [] },
      1e9,
      0,
    );
    expect(unpaired).toMatchObject([{ gate: 'risk-budget', label: 'tick 20-0', decidedBy: 'shadow', verdict: '1 budget' }]);
  });
});
