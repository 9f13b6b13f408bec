/**
 * Issue #59 items 5 and 6: every input the governor and the heat gate read, every way it can be
 * wrong, and what each gate must then do (the Figures rule, docs/governor.md "Figures"). One place:
 * the generated property (test/integration/single-fault-property.test.ts) draws its faults from
 * FAMILIES, and test/unit/single-fault-docs.test.ts holds the tables of "Inputs and how they can be
 * wrong" in docs/governor.md and docs/heat-gate.md equal to them, both ways.
 */

/** How one figure, key or read can be wrong (issue #59 item 5). */
export const WAYS = [
  'missing',
  'stale',
  'future',
  'unparsable',
  'wrong_type',
  'smaller',
  'larger',
  'vanished',
  'refused_vanished',
  'flat_mistake',
  'flat',
  'second_leg',
] as const;
export type Way = (typeof WAYS)[number];

/** What an operator is told a way means, in the docs' tables' words. */
export const WAY_WORDS: Readonly<Record<Way, string>> = {
  missing: 'missing',
  stale: 'stale',
  future: 'stamped ahead (> `PRICE_MAX_SKEW_SEC`)',
  unparsable: 'unparsable',
  wrong_type: 'wrong type / unreadable',
  smaller: 'smaller than another producer’s',
  larger: 'larger than another producer’s',
  vanished:
    'held, then gone: its figures deleted, expired, aged out with their producer stopped, left flat with a stamp older than `POSITION_MAX_AGE_SEC`, or unlisted',
  refused_vanished:
    'refused when a decision read it (stamped ahead, unparsable, unreadable), no readable figure of the leg since, then gone',
  flat_mistake: 'rewritten flat by mistake: `position_amt` 0 beside side LONG/SHORT (no writer’s close)',
  flat: 'flat, fresh (its producer’s close), the sole producer',
  second_leg: 'a second leg of the symbol (hedge mode)',
};

export type Gate = 'governor' | 'heat-gate';

/** An input of a gate: a key (or a field of one) and who writes it. */
export interface Input {
  readonly id: InputId;
  /** The key (a symbol's as `{symbol}`) and, where it matters, the field. */
  readonly key: string;
  readonly producer: string;
  /** Which gates read it. */
  readonly gates: readonly Gate[];
  /**
   * Whether another producer reports the same figure, so a wrong value of it can be cross-checked:
   * only then are missing, smaller and stale faults it must survive (a single-source value is
   * bounded by the tables' words, not by the property).
   */
  readonly crossChecked: boolean;
  /** The switch the kill switch is: a fault of it may block closes (property (b)'s exception). */
  readonly killSwitch?: true;
}

export const INPUT_IDS = [
  'tracker_entry',
  'view_row',
  'p33_seed_hash',
  'p33_newest_hash',
  'p33_mark',
  'market_state_mark',
  'ticker_mark',
  'snapshot_sigma',
  'published_sigma',
  'market_state_sigma',
  'p33_index',
  'p33_watch',
  'view_index',
  'snapshot_stream',
  'equity',
  'reservations',
  'budget',
  'kill_switch',
] as const;
export type InputId = (typeof INPUT_IDS)[number];

export const INPUTS: Readonly<Record<InputId, Input>> = {
  tracker_entry: {
    id: 'tracker_entry',
    key: 'quantum:stream:position.snapshot entry',
    producer: 'balance tracker',
    gates: ['governor', 'heat-gate'],
    crossChecked: true,
  },
  view_row: {
    id: 'view_row',
    key: 'quantum:position:{symbol}',
    producer: 'our view (position-snapshot)',
    gates: ['governor', 'heat-gate'],
    crossChecked: true,
  },
  p33_seed_hash: {
    id: 'p33_seed_hash',
    key: 'quantum:position:snapshot:{symbol}',
    producer: 'P3.3 (seed era)',
    gates: ['governor', 'heat-gate'],
    crossChecked: true,
  },
  p33_newest_hash: {
    id: 'p33_newest_hash',
    key: 'quantum:state:positions:{symbol}',
    producer: 'P3.3 (newest)',
    gates: ['governor', 'heat-gate'],
    crossChecked: true,
  },
  p33_mark: {
    id: 'p33_mark',
    key: 'quantum:state:positions:{symbol} mark_price',
    producer: 'P3.3',
    gates: ['governor', 'heat-gate'],
    crossChecked: true,
  },
  market_state_mark: {
    id: 'market_state_mark',
    key: 'quantum:state:market:{symbol} mark_price',
    producer: 'market state',
    gates: ['governor', 'heat-gate'],
    crossChecked: true,
  },
  ticker_mark: {
    id: 'ticker_mark',
    key: 'quantum:ticker:{symbol} markPrice',
    producer: 'price feed',
    gates: ['governor', 'heat-gate'],
    crossChecked: true,
  },
  snapshot_sigma: {
    id: 'snapshot_sigma',
    key: 'quantum:position:{symbol} sigma',
    producer: 'seed-format snapshot (our view)',
    gates: ['heat-gate'],
    crossChecked: true,
  },
  published_sigma: {
    id: 'published_sigma',
    key: 'quantum:marketstate:{symbol} sigma',
    producer: 'market state publisher',
    gates: ['heat-gate'],
    crossChecked: true,
  },
  market_state_sigma: {
    id: 'market_state_sigma',
    key: 'quantum:state:market:{symbol} sigma',
    producer: 'market state',
    gates: ['heat-gate'],
    crossChecked: true,
  },
  p33_index: {
    id: 'p33_index',
    key: 'quantum:gates:positions:p33_symbols',
    producer: 'position-index job',
    gates: ['governor', 'heat-gate'],
    crossChecked: true,
  },
  p33_watch: {
    id: 'p33_watch',
    key: 'quantum:gates:positions:p33_watch',
    producer: 'governor (its permitted opens)',
    gates: ['governor', 'heat-gate'],
    crossChecked: false,
  },
  view_index: {
    id: 'view_index',
    key: 'quantum:gates:positions:active_symbols',
    producer: 'our view (position-snapshot)',
    gates: ['governor', 'heat-gate'],
    crossChecked: true,
  },
  snapshot_stream: {
    id: 'snapshot_stream',
    key: 'quantum:stream:position.snapshot',
    producer: 'balance tracker',
    gates: ['governor', 'heat-gate'],
    crossChecked: true,
  },
  equity: {
    id: 'equity',
    key: 'quantum:state:portfolio equity_usd',
    producer: 'portfolio state',
    gates: ['heat-gate'],
    crossChecked: false,
  },
  reservations: {
    id: 'reservations',
    key: 'quantum:governor:{caps}:reservations',
    producer: 'the governor',
    gates: ['governor'],
    crossChecked: false,
  },
  budget: {
    id: 'budget',
    key: 'quantum:portfolio:budget:{symbol}',
    producer: 'P2.8 budget engine',
    gates: ['governor'],
    crossChecked: false,
  },
  kill_switch: {
    id: 'kill_switch',
    key: 'quantum:kill',
    producer: 'an operator',
    gates: ['governor'],
    crossChecked: false,
    killSwitch: true,
  },
};

/** What a gate must do with one family's fault, and where an operator sees it. */
export interface Expectation {
  readonly decision: string;
  /** The reason (block reason or fail_closed_cause) the decision names, `—` when it is the true world's; `a or b` when either. */
  readonly reason: string;
  readonly seen: string;
}

export interface Family {
  readonly input: InputId;
  readonly way: Way;
  readonly governor?: Expectation;
  readonly heat?: Expectation;
  /**
   * The named test that holds it, where the one-fault property does not generate it yet (a fault
   * that needs a decision before it: the book's memory of what was held, issue #70).
   */
  readonly heldBy?: string;
}

/** A family's name in a counterexample: `p33_newest_hash×future`. */
export const familyName = (f: Pick<Family, 'input' | 'way'>): string => `${f.input}×${f.way}`;

// ---- the expectations, by the Figures rule (docs/governor.md "Figures", /work figures-rule) ----

const AS_TRUE = '—';
const refused = (reason: 'future' | 'unparsable' | 'unreadable', gate: 'govern' | 'heat_gate') =>
  `\`quantum_${gate}_figures_refused_total{source,reason="${reason}"}\`, one log line per source and symbol`;

/**
 * Issue #70: heat fails closed where a figure is untrusted, unless the figures it trusts already prove
 * HOT (their heat, a lower bound, at or above HEAT_MAX): then HOT, `heat_lower_bound` naming the cause.
 */
export const UNLESS_PROVEN_HOT = 'fails closed (COLD), unless the figures trusted prove HOT (then HOT, `heat_lower_bound`)';

/** A position figure that is no figure: a slot of unknown size for the caps (an open of its own symbol unpriced), untrusted heat. */
const unusablePosition = (reason: 'future' | 'unparsable' | 'unreadable'): Pick<Family, 'governor' | 'heat'> => ({
  governor: {
    decision: 'opens blocked, closes pass',
    reason: 'position_price_unknown or market_price_unknown',
    seen: `${refused(reason, 'govern')}; the block's \`unpriced_positions\` (its own symbol's open: \`refused_inputs\`)`,
  },
  heat: {
    decision: UNLESS_PROVEN_HOT,
    reason: reason === 'future' ? 'position_stamped_ahead' : 'position_not_a_number',
    seen: `${refused(reason, 'heat_gate')}; \`debug_json\` \`untrusted\`; status DEGRADED`,
  },
});

/** A figure another fresh producer still reports: the symbol counts at the largest. */
const outvoted: Pick<Family, 'governor' | 'heat'> = {
  governor: { decision: 'as without it: the largest fresh figure counts', reason: AS_TRUE, seen: 'the decision event’s figures' },
  heat: { decision: 'heat at least the true heat', reason: AS_TRUE, seen: '`heat_score`, `debug_json` `by_symbol`' },
};

/** A larger figure counts: more careful, never less. */
const larger: Pick<Family, 'governor' | 'heat'> = {
  governor: {
    decision: 'counted at the larger figure (opens may block)',
    reason: 'total_notional_exceeded',
    seen: 'the block event’s `total_notional`',
  },
  heat: { decision: 'heat above the true heat', reason: AS_TRUE, seen: '`heat_score`, `debug_json` `by_symbol`' },
};

/** A read of a whole listing Redis refuses: that input's problem only. */
const unreadableListing = (key: string): Pick<Family, 'governor' | 'heat'> => ({
  governor: {
    decision: 'opens blocked, closes pass',
    reason: 'positions_unreadable',
    seen: `\`/ready\` 503 naming \`${key}\`; the event's \`unreadable_listings\``,
  },
  heat: {
    decision: 'fails closed (COLD)',
    reason: 'book_unreadable',
    seen: `\`/ready\` 503 naming \`${key}\`; \`debug_json\` \`untrusted\`; status DEGRADED`,
  },
});

/**
 * An open the quote's refusal does not touch (issue #70): its symbol is neither the faulted one nor
 * held, so nothing it counts is priced from what remains.
 */
export const AS_TRUE_WHERE_UNRELATED = 'as without it for an open of another symbol while the faulted one is not held';

/**
 * A price quote that is no quote (issue #70: a refusal never raises trust in what remains): the
 * symbol's other quotes are no longer cross-checked, so its open is priced as unknown and, while it is
 * held, every open with it (the total is unknown); the heat does not use quotes.
 */
const unusableQuote = (reason: 'future' | 'unparsable' | 'unreadable'): Pick<Family, 'governor' | 'heat'> => ({
  governor: {
    decision: `opens blocked, closes pass; ${AS_TRUE_WHERE_UNRELATED}`,
    reason: 'market_price_unknown or position_price_unknown',
    seen:
      `\`quantum_govern_price_quotes_refused_total{source,reason="${reason}"}\`${reason === 'future' ? ', one log line per source and symbol' : ''}; ` +
      "the block's `refused_inputs` (its own symbol's open) or `unpriced_positions` (a held one's)",
  },
  heat: { decision: 'heat unchanged (a quote only prices `debug_json`’s mark)', reason: AS_TRUE, seen: '`debug_json` `mark`' },
});

/** A ticker Redis refuses is a read the heat gate cannot trust, not a quote to skip: it names it untrusted. */
const tickerUnreadable: Family['heat'] = {
  decision: UNLESS_PROVEN_HOT,
  reason: 'position_not_a_number',
  seen: '`debug_json` `untrusted` (`{symbol}.unreadable_quote`); status DEGRADED',
};

/**
 * A hash the heat gate reads its sigma from, of another type: a held symbol's refused sigma leaves
 * its other sigma unchecked (untrusted); the proposal's own symbol's fails the decision's 3 tries.
 */
const sigmaHashUnreadable: Family['heat'] = {
  decision: UNLESS_PROVEN_HOT,
  reason: 'position_not_a_number or heat_gate_error',
  seen: '`debug_json` `untrusted` (`{symbol}.unreadable_sigma`); status DEGRADED; or, the proposal’s own symbol, `debug_json` `fail_closed` and the journal naming the key',
};

/** The market state holds a mark and a sigma: refused, both are untrusted (the proposal's own symbol's sigma, as sigmaHashUnreadable). */
const marketStateUnreadable: Family['heat'] = {
  decision: UNLESS_PROVEN_HOT,
  reason: sigmaHashUnreadable.reason,
  seen: `\`debug_json\` \`untrusted\` (\`{symbol}.unreadable_quote\`, \`{symbol}.unreadable_sigma\`); status DEGRADED; or, the proposal’s own symbol, \`debug_json\` \`fail_closed\` and the journal naming the key`,
};

const quoteOutvoted: Pick<Family, 'governor' | 'heat'> = {
  governor: { decision: 'as without it: the highest usable quote prices', reason: AS_TRUE, seen: 'the decision event’s `mark_source`' },
  heat: { decision: 'heat unchanged (a quote only prices `debug_json`’s mark)', reason: AS_TRUE, seen: '`debug_json` `mark`' },
};

/** The held index gone or unreadable: the book reads every P3.3 hash P3.3's index lists, as before the held index. */

const sigmaOutvoted: Family['heat'] = { decision: 'heat at least the true heat: the largest sigma', reason: AS_TRUE, seen: '`heat_score`' };
const sigmaUnusable = (field: string): Family['heat'] => ({
  decision: UNLESS_PROVEN_HOT,
  reason: 'position_not_a_number',
  seen: `\`debug_json\` \`untrusted\` (\`{symbol}.${field}\`); status DEGRADED`,
});

/**
 * Our view's row is the balance tracker's word only until an entry the view has not applied yet
 * says newer (docs/governor.md, "Figures"): a refused row then counts for nothing, as without it.
 */
function viewRowReplaced(input: InputId, family: Pick<Family, 'governor' | 'heat'>): Pick<Family, 'governor' | 'heat'> {
  if (input !== 'view_row' || family.governor === undefined) return family;
  const decision = `${family.governor.decision}; ${AS_TRUE_WHERE_REPLACED}`;
  return { ...family, governor: { ...family.governor, decision } };
}

/** The words of a row whose decision may also be the true world's, where the fault's figure is not its producer's word. */
export const AS_TRUE_WHERE_REPLACED = 'as without it where a tracker entry the view has not applied is newer';

/** A stream entry has no type of its own: the stream's is snapshot_stream's family. */
const positionFamilies = (input: InputId): Family[] =>
  [
    { input, way: 'missing' as const, ...outvoted },
    { input, way: 'stale' as const, ...outvoted },
    { input, way: 'future' as const, ...viewRowReplaced(input, unusablePosition('future')) },
    { input, way: 'unparsable' as const, ...viewRowReplaced(input, unusablePosition('unparsable')) },
    { input, way: 'wrong_type' as const, ...unusablePosition('unreadable') },
    { input, way: 'smaller' as const, ...outvoted },
    { input, way: 'larger' as const, ...larger },
  ].filter((f) => !(input === 'tracker_entry' && f.way === 'wrong_type'));

const quoteFamilies = (input: InputId): Family[] => [
  { input, way: 'missing', ...quoteOutvoted },
  { input, way: 'stale', ...quoteOutvoted },
  { input, way: 'future', ...unusableQuote('future') },
  { input, way: 'unparsable', ...unusableQuote('unparsable') },
  {
    input,
    way: 'wrong_type',
    governor: unusableQuote('unreadable').governor,
    heat: input === 'ticker_mark' ? tickerUnreadable : marketStateUnreadable,
  },
  { input, way: 'smaller', ...quoteOutvoted },
  { input, way: 'larger', governor: larger.governor, heat: quoteOutvoted.heat },
];

export const FAMILIES: readonly Family[] = [
  ...positionFamilies('tracker_entry'),
  ...positionFamilies('view_row'),
  ...positionFamilies('p33_seed_hash'),
  ...positionFamilies('p33_newest_hash'),
  // P3.3's mark on a held position: its stamp is the hash's (future above); missing prices the
  // quantity at the other quotes.
  { input: 'p33_mark', way: 'missing', ...outvoted },
  { input: 'p33_mark', way: 'unparsable', ...unusablePosition('unparsable') },
  { input: 'p33_mark', way: 'smaller', ...outvoted },
  { input: 'p33_mark', way: 'larger', ...larger },
  ...quoteFamilies('market_state_mark'),
  ...quoteFamilies('ticker_mark'),
  // A seed-format snapshot's own sigma (seed 000: position_notional_usd and sigma) beside the market's two: the largest counts.
  { input: 'snapshot_sigma', way: 'unparsable', heat: sigmaUnusable('sigma') },
  { input: 'snapshot_sigma', way: 'smaller', heat: sigmaOutvoted },
  { input: 'snapshot_sigma', way: 'larger', heat: { ...sigmaOutvoted, decision: 'heat above the true heat' } },
  { input: 'published_sigma', way: 'missing', heat: sigmaOutvoted },
  { input: 'published_sigma', way: 'unparsable', heat: sigmaUnusable('marketstate_sigma') },
  { input: 'published_sigma', way: 'wrong_type', heat: sigmaHashUnreadable },
  { input: 'published_sigma', way: 'smaller', heat: sigmaOutvoted },
  { input: 'published_sigma', way: 'larger', heat: { ...sigmaOutvoted, decision: 'heat above the true heat' } },
  { input: 'market_state_sigma', way: 'missing', heat: sigmaOutvoted },
  { input: 'market_state_sigma', way: 'unparsable', heat: sigmaUnusable('market_sigma') },
  { input: 'market_state_sigma', way: 'smaller', heat: sigmaOutvoted },
  { input: 'market_state_sigma', way: 'larger', heat: { ...sigmaOutvoted, decision: 'heat above the true heat' } },
  // The listings: missing only where every symbol they list has another producer.
  { input: 'p33_index', way: 'missing', ...outvoted },
  { input: 'p33_index', way: 'wrong_type', ...unreadableListing('quantum:gates:positions:p33_symbols') },
  { input: 'p33_watch', way: 'wrong_type', ...unreadableListing('quantum:gates:positions:p33_watch') },
  { input: 'view_index', way: 'missing', ...outvoted },
  { input: 'view_index', way: 'wrong_type', ...unreadableListing('quantum:gates:positions:active_symbols') },
  { input: 'snapshot_stream', way: 'wrong_type', ...unreadableListing('quantum:stream:position.snapshot') },
  {
    input: 'equity',
    way: 'future',
    heat: { decision: 'fails closed (COLD)', reason: 'portfolio_state_missing', seen: refused('future', 'heat_gate') },
  },
  {
    input: 'equity',
    way: 'unparsable',
    heat: { decision: 'fails closed (COLD)', reason: 'equity_not_a_number', seen: '`p26_failures_total{reason="heat_calculation_error"}`' },
  },
  {
    input: 'equity',
    way: 'wrong_type',
    heat: { decision: 'fails closed (COLD)', reason: 'book_unreadable', seen: '`/ready` 503 naming `quantum:state:portfolio`' },
  },
  {
    input: 'reservations',
    way: 'wrong_type',
    governor: {
      decision: 'opens blocked, closes pass',
      reason: 'positions_unreadable',
      seen: "`/ready` 503 naming `quantum:governor:{caps}:reservations`; the event's `unreadable_listings`",
    },
  },
  {
    input: 'budget',
    way: 'future',
    governor: { decision: 'as a missing budget (fail-open, testnet logs only)', reason: AS_TRUE, seen: refused('future', 'govern') },
  },
  {
    input: 'budget',
    way: 'wrong_type',
    governor: {
      decision: 'as a missing budget (fail-open, testnet logs only)',
      reason: AS_TRUE,
      seen: refused('unreadable', 'govern'),
    },
  },
  {
    input: 'kill_switch',
    way: 'wrong_type',
    governor: { decision: 'every plan blocked (fails closed)', reason: 'kill_switch_active', seen: '`quantum_govern_kill_switch` 1' },
  },
  {
    input: 'kill_switch',
    way: 'unparsable',
    governor: {
      decision: 'every plan blocked (fails closed)',
      reason: 'kill_switch_active',
      seen: '`quantum_govern_kill_switch_unrecognised` 1',
    },
  },
];

/**
 * Issue #70: a held position whose figures vanish, P3.3's flat (by mistake or not) as the sole
 * producer, and hedge legs. Each needs the book's memory, written by a decision before the fault,
 * so test/integration/book-absence.test.ts holds them by name (the one-fault property decides once
 * per world); test/integration/unknown-property.test.ts draws them all (its Vanishing and hedged
 * worlds) but the sole producer's fresh flat, which is a report.
 */
const BOOK_ABSENCE = 'test/integration/book-absence.test.ts';
const vanished = (producer: string): Pick<Family, 'governor' | 'heat'> => ({
  governor: {
    decision:
      'opens blocked naming it, closes pass: of unknown size (a slot, no price) until a fresh report says flat or `quantum-gates positions clear`',
    reason: 'max_positions_reached or position_price_unknown',
    seen: `the block's \`unpriced_positions\`; \`quantum_govern_figures_refused_total{source,reason="vanished"}\`; status DEGRADED naming ${producer}`,
  },
  heat: {
    decision: 'fails closed (COLD)',
    reason: 'position_not_a_number',
    seen: '`debug_json` `untrusted` (`{symbol}.vanished_leg`); status DEGRADED',
  },
});
export const ABSENCE_FAMILIES: readonly Family[] = [
  { input: 'tracker_entry', way: 'vanished', heldBy: BOOK_ABSENCE, ...vanished('the balance tracker') },
  { input: 'p33_seed_hash', way: 'vanished', heldBy: BOOK_ABSENCE, ...vanished('P3.3') },
  { input: 'p33_newest_hash', way: 'vanished', heldBy: BOOK_ABSENCE, ...vanished('P3.3') },
  { input: 'tracker_entry', way: 'refused_vanished', heldBy: BOOK_ABSENCE, ...vanished('the balance tracker') },
  { input: 'p33_seed_hash', way: 'refused_vanished', heldBy: BOOK_ABSENCE, ...vanished('P3.3') },
  { input: 'p33_newest_hash', way: 'refused_vanished', heldBy: BOOK_ABSENCE, ...vanished('P3.3') },
  { input: 'p33_seed_hash', way: 'flat_mistake', heldBy: BOOK_ABSENCE, ...unusablePosition('unparsable') },
  { input: 'p33_newest_hash', way: 'flat_mistake', heldBy: BOOK_ABSENCE, ...unusablePosition('unparsable') },
  {
    input: 'p33_newest_hash',
    way: 'flat',
    heldBy: BOOK_ABSENCE,
    governor: {
      decision: 'a report: the position is closed, its slot free (a single producer’s fresh flat clears what it held)',
      reason: AS_TRUE,
      seen: 'the decision event’s figures',
    },
    heat: { decision: 'a report: the position is closed', reason: AS_TRUE, seen: '`heat_score`, `debug_json` `by_symbol`' },
  },
  {
    input: 'p33_index',
    way: 'vanished',
    heldBy: BOOK_ABSENCE,
    governor: {
      decision: 'as without it: the book reads every remembered symbol’s hashes directly',
      reason: AS_TRUE,
      seen: 'the decision event’s figures',
    },
    heat: { decision: 'as without it: the book reads every remembered symbol’s hashes directly', reason: AS_TRUE, seen: '`heat_score`' },
  },
  {
    input: 'tracker_entry',
    way: 'second_leg',
    heldBy: BOOK_ABSENCE,
    governor: {
      decision: 'both legs counted: gross exposure, a slot per leg past dust',
      reason: 'total_notional_exceeded or max_positions_reached',
      seen: 'the block event’s `total_notional`, `open_positions`',
    },
    heat: { decision: 'both legs counted: gross exposure', reason: AS_TRUE, seen: '`heat_score`, `debug_json` `by_symbol`' },
  },
];

/** Every family of the tables: the property's, and those named tests hold. */
export const TABLE_FAMILIES: readonly Family[] = [...FAMILIES, ...ABSENCE_FAMILIES];

/** The families a gate's table lists: those with an expectation for it. */
export function familiesOf(gate: Gate): Family[] {
  return TABLE_FAMILIES.filter((f) => (gate === 'governor' ? f.governor : f.heat) !== undefined);
}

/** The header of a gate's table in its doc ("Inputs and how they can be wrong"). */
export const TABLE_HEADER = ['family', 'input', 'producer', 'way', 'decision', 'reason', 'where an operator sees it'] as const;

/** A gate's table, one row of cells per family, as its doc must print it (Markdown inside each cell). */
export function tableOf(gate: Gate): string[][] {
  return familiesOf(gate).map((f) => {
    const e = (gate === 'governor' ? f.governor : f.heat)!;
    const input = INPUTS[f.input];
    return [
      `\`${familyName(f)}\``,
      `\`${input.key}\``,
      input.producer,
      WAY_WORDS[f.way],
      e.decision,
      e.reason === '—' ? '—' : `\`${e.reason}\``,
      e.seen,
    ];
  });
}

/** A table as Markdown. */
export function markdownTable(rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(TABLE_HEADER), line(TABLE_HEADER.map(() => '---')), ...rows.map(line)].join('\n');
}

// ---- faults that compose (issue #70 item 3): each row held by a named test ----

/**
 * Two faults at once, or one beside figures that already decide: what no single family shows. Each
 * is a row of the section "Faults that compose" of its gate's doc (test/unit/single-fault-docs.test.ts
 * holds them equal) and a named test through the real runtime (`test`).
 */
export interface ComposedFault {
  /** The families at work, each as the single-fault table names it. */
  readonly faults: readonly string[];
  /** Where they meet. */
  readonly where: string;
  readonly gate: Gate;
  readonly expect: Expectation;
  /** The test (file and name's start) that decides it. */
  readonly test: string;
}

const COMPOSE_TEST = 'test/integration/refusals-compose.test.ts';

export const COMPOSED: readonly ComposedFault[] = [
  {
    faults: ['ticker_mark×future', 'market_state_mark×smaller'],
    where: 'the open’s own symbol, no other quote',
    gate: 'governor',
    expect: {
      decision: 'opens of it blocked, closes pass (the market state’s mark is not cross-checked)',
      reason: 'market_price_unknown',
      seen: "the block's `refused_inputs` (`ticker:future`); `quantum_govern_price_quotes_refused_total{source,reason}`",
    },
    test: `${COMPOSE_TEST} "measured 3a"`,
  },
  {
    faults: ['ticker_mark×future', 'tracker_entry×smaller'],
    where: 'a held symbol only the balance tracker reports',
    gate: 'governor',
    expect: {
      decision: 'opens blocked, closes pass (the tracker’s mark is not cross-checked)',
      reason: 'position_price_unknown',
      seen: "the block's `unpriced_positions`; `quantum_govern_price_quotes_refused_total{source,reason}`",
    },
    test: `${COMPOSE_TEST} "measured 3c"`,
  },
  {
    faults: ['p33_newest_hash×future'],
    where: 'beside fresh figures whose heat alone reaches `HEAT_MAX`',
    gate: 'heat-gate',
    expect: {
      decision: 'HOT, on the heat of the figures trusted (a lower bound: the refused figure can only add)',
      reason: 'heat_lower_bound',
      seen: '`heat_lower_bound` = `position_stamped_ahead`; `debug_json` `heat_at_least`, `untrusted`; status DEGRADED',
    },
    test: `${COMPOSE_TEST} "measured 4b"`,
  },
  {
    faults: ['p33_newest_hash×future'],
    where: 'beside fresh figures whose heat alone is below `HEAT_MAX`',
    gate: 'heat-gate',
    expect: {
      decision: 'fails closed (COLD): the figures trusted prove no bucket',
      reason: 'position_stamped_ahead',
      seen: '`fail_closed_cause`; `debug_json` `untrusted`; status DEGRADED',
    },
    test: `${COMPOSE_TEST} "measured 4b"`,
  },
];

/** The header of a gate's "Faults that compose" table. */
export const COMPOSED_HEADER = ['faults', 'where', 'decision', 'reason', 'where an operator sees it', 'test'] as const;

/** A gate's "Faults that compose" table, one row of cells per composed fault. */
export function composedTableOf(gate: Gate): string[][] {
  return COMPOSED.filter((c) => c.gate === gate).map((c) => [
    c.faults.map((f) => `\`${f}\``).join(' + '),
    c.where,
    c.expect.decision,
    `\`${c.expect.reason}\``,
    c.expect.seen,
    `\`${c.test.split(' ')[0]}\` ${c.test.slice(c.test.indexOf(' ') + 1)}`,
  ]);
}
