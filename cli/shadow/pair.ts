import type { TapeRecord } from '../../app/cli-door.js';
import type { Decided } from './decided.js';
import { changesOf, decisionKind, decisionLabel, type FieldChange } from '../rehearse/compare.js';
import { BUDGET_GATE, budgetSummary, compareBudgetTicks } from './budget-pair.js';
import { documentedBy, type DocumentedDifference } from './documented.js';

export type { Decided } from './decided.js';

export type PairClass = 'same' | 'documented' | 'unexplained';

export interface Pair {
  readonly gate: string;
  /** The incumbent's record of it: the input's stream id. */
  readonly id: string;
  /** The input both decided: its key (the stream id, or the Python incumbent's plan id), plan or proposal, symbol. */
  readonly input: string;
  readonly label: string;
  /** The plan the input is about (its plan_id, else the one the decision's outputs carry): what the outcome follow-ups record. */
  readonly planId?: string | undefined;
  readonly symbol: string | undefined;
  readonly producedAt: number;
  readonly class: PairClass;
  readonly incumbent: string;
  readonly shadow: string;
  /** docs/migration.md's row, for a documented difference. */
  readonly row?: string;
  /** The verdict fields that differ (before: the incumbent's, after: the shadow's). */
  readonly changes: readonly FieldChange[];
}

export interface Unpaired {
  readonly gate: string;
  readonly id: string;
  readonly input: string;
  readonly label: string;
  readonly producedAt: number;
  /** The side that decided it: the other never did. */
  readonly decidedBy: 'incumbent' | 'shadow';
  readonly verdict: string;
}

/** A decision's verdict in one line: its kind ("event=permit", "calibrated_action=PARTIAL_25") and reason, or its outcome. */
export function verdictOf(record: Decided): string {
  if (record.outcome !== 'handled') return record.outcome;
  const kind = decisionKind(asTapeRecord(record));
  for (const effect of record.effects as { fields?: Record<string, string> }[]) {
    const reason = effect.fields?.reason;
    if (reason !== undefined && effect.fields && Object.entries(effect.fields).some(([k, v]) => `${k}=${v}` === kind))
      return `${kind} reason=${reason}`;
  }
  return kind;
}

export function asTapeRecord(record: Decided): TapeRecord {
  return { v: 2, reads: { calls: [], clock: [] }, ...record } as TapeRecord;
}

export interface PairingRules {
  readonly incumbent: DocumentedDifference['incumbent'];
  readonly documented: readonly DocumentedDifference[];
  /** Compare on this wording of each side's verdict alone (an incumbent whose outputs tell less than a tape); else field by field. */
  readonly verdictOf?: ((record: Decided) => string) | undefined;
}

/**
 * Writes that keep the book's shared memory (its held legs, its symbol indexes under
 * quantum:gates:positions:), made by whichever decision first sees a change. The incumbent writes
 * them and the shadow, writing nothing, sees them written a moment later or not yet: a write of
 * them made by one side only is timing, not a verdict.
 */
const UPKEEP = /^\S+ quantum:gates:positions:/;

/** The plan a decision is about: its input's plan_id, else the first its outputs carry (the heat gate derives one for a kernel proposal, docs/migration.md K2). */
export function planIdOf(record: Decided): string | undefined {
  if (record.raw.plan_id) return record.raw.plan_id;
  for (const effect of record.effects as { fields?: Record<string, string> }[]) if (effect.fields?.plan_id) return effect.fields.plan_id;
  return undefined;
}

/** The two decisions of one input, compared by the rehearsal's field rules (cli/rehearse/compare.ts): only verdict fields count. */
export function pairOf(input: string, incumbent: Decided, shadow: Decided, rules: PairingRules): Pair {
  if (incumbent.gate === BUDGET_GATE) return budgetPairOf(input, incumbent, shadow, rules);
  const word = rules.verdictOf ?? verdictOf;
  const verdicts = { incumbent: word(incumbent), shadow: word(shadow) };
  const changes: FieldChange[] =
    rules.verdictOf === undefined
      ? changesOf(asTapeRecord(incumbent), { outcome: shadow.outcome, effects: shadow.effects, jobs: shadow.jobs }).filter(
          (c) => c.class === 'verdict' && !UPKEEP.test(c.field),
        )
      : verdicts.incumbent === verdicts.shadow
        ? []
        : [{ field: 'verdict', before: verdicts.incumbent, after: verdicts.shadow, class: 'verdict' }];
  const { id, symbol } = decisionLabel(asTapeRecord(incumbent));
  const planId = planIdOf(incumbent) ?? planIdOf(shadow);
  const base = {
    gate: incumbent.gate,
    id: incumbent.id,
    input,
    label: id,
    planId,
    symbol,
    producedAt: incumbent.producedAt,
    ...verdicts,
    changes,
  };
  if (changes.length === 0) return { ...base, class: 'same' };
  const rule = documentedBy(rules.documented, rules.incumbent, incumbent.gate, verdicts);
  return rule === undefined ? { ...base, class: 'unexplained' } : { ...base, class: 'documented', row: rule.row };
}

/**
 * Two budget ticks of one period (budget-pair.ts), whichever the incumbent: documented when every
 * symbol's difference is documented, naming each row.
 */
function budgetPairOf(input: string, incumbent: Decided, shadow: Decided, rules: PairingRules): Pair {
  const { changes, ...verdicts } = compareBudgetTicks(incumbent, shadow);
  const base = { gate: incumbent.gate, id: incumbent.id, input, label: `tick ${input}`, planId: undefined, symbol: undefined };
  const pair = { ...base, producedAt: incumbent.producedAt, ...verdicts, changes };
  if (changes.length === 0) return { ...pair, class: 'same' };
  const rows = changes.map(
    (c) => documentedBy(rules.documented, rules.incumbent, incumbent.gate, { incumbent: c.before ?? '', shadow: c.after ?? '' })?.row,
  );
  if (rows.some((row) => row === undefined)) return { ...pair, class: 'unexplained' };
  return { ...pair, class: 'documented', row: [...new Set(rows)].join('; ') };
}

export interface Settled {
  readonly pairs: Pair[];
  readonly unpaired: Unpaired[];
  /** Inputs one side decided, too recent to call unpaired (the other may still decide them). */
  readonly waiting: number;
  /** When the oldest of them was produced (ms): everything produced before it is settled. */
  readonly waitingFrom: number | undefined;
}

/**
 * Pairs each input both sides decided, by key; an input one side decided more than `graceMs`
 * before `now` is unpaired, a younger one waiting. Oldest first.
 */
export function settle(
  incumbent: ReadonlyMap<string, Decided>,
  shadow: ReadonlyMap<string, Decided>,
  rules: PairingRules,
  now: number,
  graceMs: number,
): Settled {
  const pairs: Pair[] = [];
  const unpaired: Unpaired[] = [];
  let waiting = 0;
  let waitingFrom: number | undefined;
  const alone = (input: string, record: Decided, decidedBy: Unpaired['decidedBy']) => {
    if (now - record.producedAt < graceMs) {
      waiting += 1;
      waitingFrom = Math.min(waitingFrom ?? record.producedAt, record.producedAt);
    } else
      unpaired.push({
        gate: record.gate,
        id: record.id,
        input,
        label: record.gate === BUDGET_GATE ? `tick ${input}` : decisionLabel(asTapeRecord(record)).id,
        producedAt: record.producedAt,
        decidedBy,
        verdict: record.gate === BUDGET_GATE ? budgetSummary(record) : verdictOf(record),
      });
  };
  for (const [input, record] of incumbent) {
    const other = shadow.get(input);
    if (other === undefined) alone(input, record, 'incumbent');
    else pairs.push(pairOf(input, record, other, rules));
  }
  for (const [input, record] of shadow) if (!incumbent.has(input)) alone(input, record, 'shadow');
  pairs.sort((a, b) => a.producedAt - b.producedAt);
  unpaired.sort((a, b) => a.producedAt - b.producedAt);
  return { pairs, unpaired, waiting, waitingFrom };
}
