import { describe, expect, it } from 'vitest';
import { checkCaps, type DecisionFields } from '../../bench/caps-check.js';

/**
 * The bench's "caps exact" check (bench/caps-check.ts) on hand-made decisions: 10 plans (5 closes,
 * 5 opens of $10) at a cap of book + $30, so exactly 3 opens may be permitted.
 */
const BOOK = '21900';
const CAP = 21_930;
const close = (n: number): DecisionFields => ({ plan_id: `gov-${n}`, event: 'permit', reason: 'close_bypass' });
const permit = (n: number, reserved: number): DecisionFields => ({
  plan_id: `gov-${n}`,
  event: 'permit',
  total_notional: BOOK,
  reserved_notional: String(reserved),
});
const capped = (n: number): DecisionFields => ({
  plan_id: `gov-${n}`,
  event: 'block',
  reason: 'total_notional_exceeded',
  total_notional: BOOK,
});
const exactRun = (): DecisionFields[] => [
  close(0),
  permit(1, 0),
  close(2),
  permit(3, 10),
  close(4),
  permit(5, 20),
  close(6),
  capped(7),
  close(8),
  capped(9),
];

describe('bench caps check', () => {
  it('is exact when the permits are what the cap allows, each having seen those before it', () => {
    const check = checkCaps(exactRun(), 10, CAP, 10, 30);
    expect(check.problems).toEqual([]);
    expect(check).toMatchObject({ exact: true, opens: 5, openPermits: 3, expectedOpenPermits: 3, bookNotional: 21_900 });
    expect(check.blockReasons).toEqual({ total_notional_exceeded: 2 });
  });

  it('fails one permit over the cap', () => {
    const run = exactRun();
    run[7] = permit(7, 30);
    const check = checkCaps(run, 10, CAP, 10, 40);
    expect(check.exact).toBe(false);
    expect(check.problems).toContain('4 opens permitted, the cap allows 3');
  });

  it('fails a permit that did not see an earlier reservation, even at the right count', () => {
    const run = exactRun();
    run[5] = permit(5, 10);
    expect(checkCaps(run, 10, CAP, 10, 30).exact).toBe(false);
  });

  it('fails one permit under the cap, a plan decided twice or not at all, and reservations that do not match', () => {
    const under = exactRun();
    under[5] = capped(5);
    expect(checkCaps(under, 10, CAP, 10, 20).problems).toEqual(['2 opens permitted, the cap allows 3']);
    expect(checkCaps([...exactRun(), close(0)], 10, CAP, 10, 30).problems).toEqual(['1 plans decided more than once']);
    expect(checkCaps(exactRun().slice(1), 10, CAP, 10, 30).problems).toEqual(['1 of 10 plans undecided']);
    expect(checkCaps(exactRun(), 10, CAP, 10, 40).problems).toEqual(['the reservations hold $40, the permits $30']);
  });

  it('fails a blocked close, an open blocked for something other than a cap, and books that disagree', () => {
    const run = exactRun();
    run[0] = { plan_id: 'gov-0', event: 'block', reason: 'kill_switch_active' };
    run[9] = { plan_id: 'gov-9', event: 'block', reason: 'market_price_unknown', total_notional: '100' };
    const problems = checkCaps(run, 10, CAP, 10, 30).problems;
    expect(problems).toContain('close gov-0 not permitted (block kill_switch_active)');
    expect(problems).toContain('open gov-9 blocked for market_price_unknown, not a cap');
    expect(problems).toContain('the open decisions reported 2 book notionals, not one');
  });
});
