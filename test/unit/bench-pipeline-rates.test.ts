import { describe, expect, it } from 'vitest';
import { delta, perDecisionCalls } from '../../bench/pipeline-rates.js';

/**
 * The arithmetic of the bench's pipeline-rates rows (bench/pipeline-rates.ts): the calls between
 * two INFO commandstats readings less the bench's own, and a decision's share with the idle rate
 * taken out.
 */
describe('bench pipeline-rates arithmetic', () => {
  it("leaves out the bench's own calls and the reading's INFO, and keeps commands first seen in the window", () => {
    const before = new Map([
      ['xadd', 100],
      ['hmget', 50],
      ['info', 7],
    ]);
    const after = new Map([
      ['xadd', 190],
      ['hmget', 80],
      ['info', 8],
      ['evalsha', 12],
    ]);
    const own = new Map([
      ['xadd', 60],
      ['xread', 5],
    ]);
    expect([...delta(before, after, own)]).toEqual([
      ['xadd', 30],
      ['hmget', 30],
      ['evalsha', 12],
    ]);
  });

  it("takes the idle rate over the window's length out of each command, negative where the idle run sent more", () => {
    const windowCalls = new Map([
      ['hmget', 1_000],
      ['evalsha', 40],
    ]);
    // 10 s of window: the idle rate accounts for 200 HMGETs and 30 BZPOPMINs the window did not send.
    const idleRate = new Map([
      ['hmget', 20],
      ['bzpopmin', 3],
    ]);
    const perDecision = perDecisionCalls(windowCalls, idleRate, 10, 20);
    expect(perDecision.get('hmget')).toBeCloseTo(40);
    expect(perDecision.get('evalsha')).toBeCloseTo(2);
    expect(perDecision.get('bzpopmin')).toBeCloseTo(-1.5);
  });

  it('leaves out shares under 0.005 a decision', () => {
    const perDecision = perDecisionCalls(new Map([['ping', 1]]), new Map(), 10, 1_000);
    expect(perDecision.has('ping')).toBe(false);
  });
});
