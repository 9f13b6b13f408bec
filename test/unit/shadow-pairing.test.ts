import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DOCUMENTED_DIFFERENCES, documentedBy } from '../../cli/shadow/documented.js';
import { settle, verdictOf, type Decided } from '../../cli/shadow/pair.js';

/** A governor decision as the tape and the shadow record one: its event emitted, its permit or block key written. */
function governorDecision(id: string, planId: string, event: 'permit' | 'block', reason: string, producedAt = 1_000): Decided {
  return {
    gate: 'governor',
    id,
    producedAt,
    raw: { plan_id: planId, symbol: 'SOLUSDT' },
    outcome: 'handled',
    effects: [
      { op: 'emit', stream: 'quantum:stream:governor.events', fields: { event, plan_id: planId, reason, ts: String(producedAt) } },
      { op: 'setKey', key: event === 'permit' ? `quantum:permit:${planId}` : `quantum:governor:block:${planId}`, value: '{}' },
    ],
    jobs: [],
  };
}

const byId = (...decisions: Decided[]) => new Map(decisions.map((d) => [d.id, d]));

describe('the shadow pairing', () => {
  it('names each documented difference by a row docs/migration.md has', () => {
    const rows = readFileSync('docs/migration.md', 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('| '))
      .map((line) => line.slice(2, line.indexOf(' |')));
    expect(DOCUMENTED_DIFFERENCES.length).toBeGreaterThan(0);
    for (const difference of DOCUMENTED_DIFFERENCES) expect(rows, difference.row).toContain(difference.row);
  });

  it('classifies the same verdict as same, whatever other fields (times) differ', () => {
    const incumbent = governorDecision('1-0', 'p1', 'permit', 'close_bypass', 1_000);
    const shadow = {
      ...governorDecision('1-0', 'p1', 'permit', 'close_bypass', 1_000),
      effects: governorDecision('1-0', 'p1', 'permit', 'close_bypass', 1_007).effects,
    };
    const { pairs } = settle(byId(incumbent), byId(shadow), { incumbent: 'current', documented: DOCUMENTED_DIFFERENCES }, 10_000, 0);
    expect(pairs.map((p) => p.class)).toEqual(['same']);
  });

  it('classifies a Python permit the gates block as plan_too_old as documented, naming its row, and any other block as unexplained', () => {
    const rules = { incumbent: 'python' as const, documented: DOCUMENTED_DIFFERENCES };
    const { pairs } = settle(
      byId(governorDecision('1-0', 'old', 'permit', 'close_bypass'), governorDecision('2-0', 'cap', 'permit', 'all_gates_passed')),
      byId(governorDecision('1-0', 'old', 'block', 'plan_too_old'), governorDecision('2-0', 'cap', 'block', 'total_notional_exceeded')),
      rules,
      10_000,
      0,
    );
    expect(pairs.map((p) => [p.label, p.class, p.row])).toEqual([
      ['old', 'documented', 'governor plan age'],
      ['cap', 'unexplained', undefined],
    ]);
    expect(pairs[1]!.changes.map((c) => [c.field, c.before, c.after])).toContainEqual([
      'emit quantum:stream:governor.events event',
      'permit',
      'block',
    ]);
  });

  it('holds the documented differences to their incumbent: against the current release a stricter block is unexplained', () => {
    const verdicts = { incumbent: 'event=permit reason=close_bypass', shadow: 'event=block reason=plan_too_old' };
    expect(documentedBy(DOCUMENTED_DIFFERENCES, 'python', 'governor', verdicts)?.row).toBe('governor plan age');
    expect(documentedBy(DOCUMENTED_DIFFERENCES, 'current', 'governor', verdicts)).toBeUndefined();
    expect(documentedBy(DOCUMENTED_DIFFERENCES, 'python', 'heat-gate', verdicts)).toBeUndefined();
  });

  it('names an input one side decided as unpaired once the grace has passed, and waits for it before', () => {
    const rules = { incumbent: 'current' as const, documented: [] };
    const onlyIncumbent = governorDecision('1-0', 'a', 'permit', 'close_bypass', 1_000);
    const onlyShadow = governorDecision('2-0', 'b', 'block', 'symbol_cooldown', 5_000);
    const early = settle(byId(onlyIncumbent), byId(onlyShadow), rules, 5_500, 1_000);
    expect(early.unpaired.map((u) => [u.label, u.decidedBy])).toEqual([['a', 'incumbent']]);
    expect(early.waiting).toBe(1);
    const late = settle(byId(onlyIncumbent), byId(onlyShadow), rules, 6_500, 1_000);
    expect(late.unpaired.map((u) => [u.label, u.decidedBy, u.verdict])).toEqual([
      ['a', 'incumbent', 'event=permit reason=close_bypass'],
      ['b', 'shadow', 'event=block reason=symbol_cooldown'],
    ]);
  });

  it("words a dead letter's verdict as its outcome", () => {
    expect(verdictOf({ ...governorDecision('1-0', 'x', 'block', 'r'), outcome: 'dead-letter:invalid_input', effects: [] })).toBe(
      'dead-letter:invalid_input',
    );
  });
});
