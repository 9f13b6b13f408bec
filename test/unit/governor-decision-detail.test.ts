import { describe, expect, it } from 'vitest';
import { limitsOf, parseGovernorConfig } from '../../handlers/governor/config.js';
import { decisionDetail, disarmDetail, operatorDetail } from '../../handlers/governor/decision-detail.js';
import type { DecisionEvent, OperatorEvent } from '../../schemas/governor-event.js';

/** The governor's defaults: $200 per trade, $2,000 in total, 10 positions, 3 an hour, 2 in 5 min. */
const limits = limitsOf(parseGovernorConfig({}));

function block(reason: string, fields: Partial<DecisionEvent> = {}): DecisionEvent {
  return {
    event: 'block',
    plan_id: 'p1',
    symbol: 'BTCUSDT',
    action: 'OPEN_LONG',
    decision: 'EXECUTE',
    side: 'LONG',
    source_id: '1-0',
    timestamp: '1700000000',
    reason,
    kind: 'open',
    ...fields,
  } as DecisionEvent;
}

describe('decisionDetail', () => {
  it.each([
    ['notional_per_trade_exceeded', { computed_notional: '1000' }, 'open: $1,000 > $200 per trade'],
    ['total_notional_exceeded', { total_notional: '2150.5', computed_notional: '100' }, 'open: book $2,150.5 ≥ $2,000 total'],
    ['total_notional_exceeded', { total_notional: '1900', computed_notional: '300' }, 'open: book $1,900 + $300 > $2,000 total'],
    ['max_positions_reached', { open_positions: '10' }, 'open: 10 ≥ 10 positions open'],
    ['position_price_unknown', { unpriced_positions: 'AUSDT,BUSDT' }, 'open: no price for AUSDT, BUSDT'],
    ['hourly_limit_exceeded', { exec_count_hour: '3' }, 'open: 3 ≥ 3 executions in the last hour'],
    ['burst_limit_exceeded', { exec_count_5min: '2' }, 'open: 2 ≥ 2 executions in 5 min'],
    ['kill_score_critical_non_close', { kill_score: '0.93' }, 'open: kill score 0.93 ≥ 0.8'],
    ['plan_too_old', { plan_age_sec: '412.5' }, 'open: plan 412.5 s old > 300 s'],
    ['symbol_cooldown', {}, 'open: within the 60 s cooldown'],
    ['evaluation_error', { error: 'Error: boom' }, 'open: Error: boom'],
    ['kill_switch_active', {}, 'open'],
  ] as const)('%s %j → %s', (reason, fields, detail) => {
    expect(decisionDetail(block(reason, fields), limits)).toBe(detail);
  });

  it("a P2.8 block shows the position, the budget and by how much it is over, from the decision's recorded inputs", () => {
    // decision_inputs as handlers/governor/decision-inputs.ts writes it (the fields this detail reads).
    const inputs = (symbolNotional: number, trade: number, budgetUsd: number, violation: boolean) =>
      JSON.stringify({
        v: 1,
        facts: { notional: trade },
        snap: { symbol_notional: symbolNotional, budget: { usd: budgetUsd, mode: 'enforce', at: null }, violation, own: null },
      });
    const p28 = (text: string) => decisionDetail(block('p28_budget_violation', { decision_inputs: text }), limits);

    expect(p28(inputs(5000, 150, 1800.5, false))).toBe('open: position $5,000 + $150 > budget $1,800.5 by $3,349.5');
    expect(p28(inputs(1000, 0, 1800.5, true))).toBe('open: position $1,000 vs budget $1,800.5; a budget.violation in the window');
    expect(decisionDetail(block('p28_budget_violation'), limits)).toBe('open');
  });

  it("shows an evaluation error's first 160 characters", () => {
    const detail = decisionDetail(block('evaluation_error', { error: `Error: ${'x'.repeat(500)}` }), limits);
    expect(detail).toHaveLength('open: '.length + 160);
    expect(detail.endsWith('x…')).toBe(true);
  });

  it('never states a comparison the current cap does not bear out (a cap changed since the decision)', () => {
    const raised = { ...limits, maxNotionalPerTrade: 5000, maxTotalNotional: 10_000 };
    expect(decisionDetail(block('notional_per_trade_exceeded', { computed_notional: '1000' }), raised)).toBe('open: $1,000 per trade');
    expect(decisionDetail(block('total_notional_exceeded', { total_notional: '2150.5', computed_notional: '100' }), raised)).toBe(
      'open: book $2,150.5 total',
    );
  });

  it('shows the recorded figure alone where the governor is not hosted (its limits unknown)', () => {
    expect(decisionDetail(block('notional_per_trade_exceeded', { computed_notional: '1000' }), undefined)).toBe('open: $1,000 per trade');
    expect(decisionDetail(block('symbol_cooldown'), undefined)).toBe('open');
  });

  it("names a permit's computed size where there is one (production), and only its side where there is none", () => {
    const permit = { ...block('all_gates_passed'), event: 'permit' } as DecisionEvent;
    expect(decisionDetail({ ...permit, kind: 'close', computed_notional: '512.25', computed_qty: '0.01' }, limits)).toBe(
      'close: $512.25 (qty 0.01)',
    );
    expect(decisionDetail({ ...permit, kind: 'close', computed_notional: '0.0', computed_qty: '0.0' }, limits)).toBe('close');
    expect(decisionDetail({ ...permit, kind: undefined }, limits)).toBe('permit');
  });
});

describe('operatorDetail', () => {
  const base = { actor: 'alice', host: 'ops-1', ts: '1700000000000', reason: 'maintenance' };
  it.each([
    [
      { event: 'kill_on', target: 'redis 127.0.0.1:6379 db 0', previous: '(absent)' },
      'by alice@ops-1 on redis 127.0.0.1:6379 db 0, was (absent)',
    ],
    [{ event: 'kill_off' }, 'by alice@ops-1'],
    [
      { event: 'dlq_drop', count: '1', dlq_stream: 'quantum:stream:dlq', forced: 'true' },
      'by alice@ops-1: 1 entry of quantum:stream:dlq (forced)',
    ],
    [
      { event: 'bull_board', request: 'POST /admin/queues/api/queues/x/retry', status: '200' },
      'by alice@ops-1: POST /admin/queues/api/queues/x/retry → HTTP 200',
    ],
  ] as const)('%j → %s', (fields, detail) => {
    expect(operatorDetail({ ...base, ...fields } as OperatorEvent)).toBe(detail);
  });
});

describe('disarmDetail', () => {
  it.each([
    ['{"error_count": 5, "threshold": 5}', 'AUTO_DISARM: 5 errors ≥ 5'],
    ['{"symbol": "BTCUSDT", "exec_5min": 2, "limit": 2}', 'AUTO_DISARM: BTCUSDT 2 executions in 5 min ≥ 2'],
    ['not json', 'AUTO_DISARM: not json'],
  ])('%s → %s', (context, detail) => {
    expect(disarmDetail(context)).toBe(detail);
  });
});
