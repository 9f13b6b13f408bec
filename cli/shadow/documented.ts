/**
 * The verdict differences the gates make on purpose against an incumbent, each naming the row of
 * docs/migration.md that documents it (its first cell, as written there; test/unit/shadow-documented.test.ts
 * checks that every row exists). Data: the pairing reads it (pair.ts); a new documented difference
 * is a row there and an entry here, never code.
 *
 * A pair whose verdicts differ is documented by an entry of its incumbent and gate whose patterns
 * match both decisions' verdicts, as verdict.ts words them ("event=block reason=plan_too_old",
 * "dead-letter:invalid_input"), each matched whole.
 */
export interface DocumentedDifference {
  /** docs/migration.md's row: its first cell. */
  readonly row: string;
  readonly incumbent: 'python' | 'current';
  readonly gate: string;
  /** The shadow's verdict (a regular expression, matched whole). */
  readonly shadow: string;
  /** The incumbent's verdict (a regular expression, matched whole); any when absent. */
  readonly incumbentVerdict?: string;
}

/** A stricter block of ours where the original permitted (docs/migration.md: "stricter, always on"). */
const stricterBlock = (row: string, reasons: string): DocumentedDifference => ({
  row,
  incumbent: 'python',
  gate: 'governor',
  shadow: `event=block reason=(${reasons})`,
  incumbentVerdict: 'event=permit( .*)?',
});

export const DOCUMENTED_DIFFERENCES: readonly DocumentedDifference[] = [
  stricterBlock('governor plan age', 'plan_too_old'),
  stricterBlock('governor kill switch on production and dry_run', 'kill_switch_active'),
  stricterBlock('governor open pricing (testnet)', 'plan_qty_invalid|market_price_unknown|plan_price_mismatch|plan_notional_mismatch'),
  stricterBlock('governor plan time', 'plan_time_in_future|plan_time_unknown_unit'),
  stricterBlock('governor positions without a price', 'position_price_unknown'),
  stricterBlock('`quantum:gates:permitted:{plan_id}` (TTL `GOV_PERMIT_MEMORY_SEC`, a day)', 'plan_id_reused'),
  stricterBlock('`quantum:governor:disarm` (no TTL)', 'disarmed'),
  {
    row: 'numbers in fields and settings',
    incumbent: 'python',
    gate: 'governor',
    shadow: 'dead-letter:invalid_input',
    incumbentVerdict: 'event=(permit|block)( .*)?',
  },
  {
    // The original compared with exactly FULL_CLOSE: the kernel's FULL_CLOSE_PROPOSED passed unchanged.
    row: 'K3',
    incumbent: 'python',
    gate: 'heat-gate',
    shadow: 'calibrated_action=\\S+ reason=portfolio_heat_(cold|warm|hot)',
    incumbentVerdict: 'calibrated_action=FULL_CLOSE_PROPOSED reason=non_full_close_unchanged',
  },
  {
    // P26_APPLY_LAYER_ERA seed or calibrated: a COLD full close becomes PARTIAL_50, an action that Apply Layer executes.
    row: 'K5',
    incumbent: 'python',
    gate: 'heat-gate',
    shadow: 'calibrated_action=PARTIAL_50 reason=portfolio_heat_cold',
    incumbentVerdict: 'calibrated_action=PARTIAL_25 reason=portfolio_heat_cold',
  },
  {
    // A budget tick is compared symbol by symbol (budget-pair.ts): ours budgets every symbol with a
    // position in either P3.3 layout or the snapshot stream, the original only KEYS quantum:position:snapshot:*.
    row: 'budget symbols',
    incumbent: 'python',
    gate: 'risk-budget',
    shadow: 'budget .*',
    incumbentVerdict: 'none',
  },
];

const whole = (pattern: string | undefined, value: string): boolean => pattern === undefined || new RegExp(`^(?:${pattern})$`).test(value);

/** The entry documenting a pair whose verdicts differ, if one does. */
export function documentedBy(
  rules: readonly DocumentedDifference[],
  incumbent: DocumentedDifference['incumbent'],
  gate: string,
  verdicts: { readonly incumbent: string; readonly shadow: string },
): DocumentedDifference | undefined {
  return rules.find(
    (rule) =>
      rule.incumbent === incumbent &&
      rule.gate === gate &&
      whole(rule.shadow, verdicts.shadow) &&
      whole(rule.incumbentVerdict, verdicts.incumbent),
  );
}
