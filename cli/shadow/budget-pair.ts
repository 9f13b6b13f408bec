import { keys } from '../../schemas/keys.js';
import type { FieldChange } from '../rehearse/compare.js';
import type { Decided } from './decided.js';

/** The risk budget (P2.8): the one scheduled gate the shadow hosts, paired by tick (app/shadow/tick.ts). */
export const BUDGET_GATE = 'risk-budget';

const BUDGET_PREFIX = keys.budget('');

/**
 * The budget hashes a tick wrote, by symbol: its putHash effects on `quantum:portfolio:budget:{symbol}`
 * (the shadow's and the tape's records; the Python reader's, made from the hashes as read).
 */
export function budgetsOf(record: Decided): Map<string, Readonly<Record<string, string>>> {
  const found = new Map<string, Readonly<Record<string, string>>>();
  for (const effect of record.effects as { op?: string; key?: string; fields?: Record<string, string> }[]) {
    if (effect.op !== 'putHash' || !effect.key?.startsWith(BUDGET_PREFIX) || effect.fields === undefined) continue;
    const symbol = effect.key.slice(BUDGET_PREFIX.length);
    if (symbol !== '' && !symbol.includes(':')) found.set(symbol, effect.fields);
  }
  return found;
}

/**
 * The figures a budget is computed from, as its hash records them: they move between the two
 * sides' ticks (equity, heat, stress and vol are read as they are when each side ticks, up to a
 * period apart), so a budget's own figures are evidence of the rule only where these are equal.
 */
const INPUTS = ['equity_usd', 'portfolio_heat', 'cluster_stress', 'vol_regime'] as const;
/** The settings it records: compared always (another mode or base risk is another rule). */
const SETTINGS = ['mode', 'base_risk_pct'] as const;
/** Its verdict figures: compared where the inputs are equal. */
const FIGURES = ['budget_usd', 'stress_factor'] as const;

/** A number as Python's str() and ours may both write it ("1012.0", "1012"); text that is no number as it is. */
const figure = (value: string | undefined): string => {
  if (value === undefined) return '(none)';
  const n = Number(value);
  return value.trim() !== '' && Number.isFinite(n) ? String(n) : value;
};

const sameInputs = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean =>
  INPUTS.every((field) => figure(a[field]) === figure(b[field]));

/** One side's budget of a symbol in words: its settings, and its figures where `figures`. */
function budgetWord(hash: Readonly<Record<string, string>> | undefined, figures: boolean): string {
  if (hash === undefined) return 'none';
  const parts = [...SETTINGS, ...(figures ? FIGURES : [])].map((field) => `${field}=${figure(hash[field])}`);
  return `budget ${parts.join(' ')}`;
}

/** What the pairing compares of two ticks: each side's verdict in one line, and the symbols whose budgets differ. */
export interface BudgetComparison {
  readonly incumbent: string;
  readonly shadow: string;
  /** One per symbol whose budget differs: field the symbol, before the incumbent's word, after the shadow's. */
  readonly changes: FieldChange[];
}

/** A tick in a few words: its outcome, else how many budgets it wrote. */
export function budgetSummary(record: Decided, budgets: ReadonlyMap<string, unknown> = budgetsOf(record)): string {
  if (record.outcome !== 'handled') return record.outcome;
  return budgets.size === 0 ? 'no budgets' : `${budgets.size} budget${budgets.size === 1 ? '' : 's'}`;
}

/**
 * Two ticks of one period compared symbol by symbol: a symbol budgeted by one side only, another
 * mode or base risk, or (where both recorded the same inputs) another budget or stress is a
 * verdict difference. Where the inputs moved between the ticks the figures are not compared:
 * they differ by what moved, not by the rule (docs/shadow.md).
 */
export function compareBudgetTicks(incumbent: Decided, shadow: Decided): BudgetComparison {
  const before = budgetsOf(incumbent);
  const after = budgetsOf(shadow);
  const changes: FieldChange[] = [];
  if (incumbent.outcome !== shadow.outcome)
    changes.push({ field: 'outcome', before: incumbent.outcome, after: shadow.outcome, class: 'verdict' });
  for (const symbol of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const [a, b] = [before.get(symbol), after.get(symbol)];
    const figures = a !== undefined && b !== undefined && sameInputs(a, b);
    const [was, is] = [budgetWord(a, figures), budgetWord(b, figures)];
    if (was !== is) changes.push({ field: symbol, before: was, after: is, class: 'verdict' });
  }
  if (changes.length === 0) return { incumbent: budgetSummary(incumbent, before), shadow: budgetSummary(shadow, after), changes };
  const words = (side: 'before' | 'after') => changes.map((c) => `${c.field}: ${c[side] ?? '(none)'}`).join('; ');
  return { incumbent: words('before'), shadow: words('after'), changes };
}
