import { defineStatusSection, type StatusReadContext, type StatusSectionDeclaration } from '../runtime/contract/index.js';
import { type BadgeCase } from '../schemas/status/views.js';

/**
 * One row of the status's "Latest decisions": the heat gate's (kept and downgraded) and the
 * governor's permits and blocks share it, each gate declaring its own reader of the same section
 * (`decisions`), merged newest first. Shared here, as the position book is in positions/, so
 * neither gate's folder imports the other's.
 */
export interface Decision {
  readonly at: number;
  readonly kind: 'downgrade' | 'kept' | 'permit' | 'block' | 'event';
  readonly gate: 'heat-gate' | 'governor';
  readonly symbol: string | null;
  readonly plan_id: string | null;
  /**
   * FULL_CLOSE → PARTIAL_25 for a downgrade, the action for a kept one; the plan's action for the
   * governor, and for an operator's event what they did (kill_on, dlq_replay…).
   */
  readonly action: string | null;
  readonly reason: string | null;
  /**
   * Heat and bucket of a heat-gate decision; for the governor the figures a permit or block was
   * decided on ("open: $1,000 > $200 per trade"), who an operator's event was by, or the name of
   * an event it does not know.
   */
  readonly detail: string | null;
  readonly mode: string | null;
  readonly id: string;
}

/** Decisions shown per gate. */
export const DECISION_LIMIT = 20;

export function newestFirst(decisions: readonly Decision[]): Decision[] {
  return [...decisions].sort((a, b) => b.at - a.at || b.id.localeCompare(a.id));
}

/** Milliseconds since the epoch encoded in a stream entry id. */
export function entryTime(id: string): number {
  return Number(id.split('-')[0]);
}

/** A block or a downgrade is a gate doing its job: told apart by colour, but none is an alarm. */
const DECISION_BADGE: readonly BadgeCase<Decision>[] = [
  { when: { kind: 'block' }, text: 'BLOCK', tone: 'stop', title: 'The governor refused the plan' },
  { when: { kind: 'permit' }, text: 'PERMIT', tone: 'ok' },
  { when: { kind: 'downgrade' }, text: 'DOWNGRADE', tone: 'info', title: 'The heat gate calibrated the proposal down' },
  { when: { kind: 'kept' }, text: 'KEPT', tone: 'neutral', title: 'The proposal passes unchanged' },
  { text: 'event', tone: 'neutral' },
];

/** A gate's reader of the shared decisions section. */
export function decisionsSection<Config>(
  read: (ctx: StatusReadContext<Config>) => Promise<readonly Decision[] | null>,
): StatusSectionDeclaration<Config, readonly Decision[]> {
  return defineStatusSection<Config, readonly Decision[]>({
    key: 'decisions',
    title: 'Latest decisions',
    // First: what the gates decide is what the page is opened for.
    order: 5,
    views: [
      {
        shape: 'table',
        caption: "Every heat-gate decision (kept or downgraded) and the governor's permits and blocks, newest first",
        empty: 'No heat-gate decisions, permits or blocks yet.',
        rowData: { decision: 'kind', id: 'id' },
        // Every column on screen at 1280 px, Reason and Detail whole: the cells wrap.
        wrap: true,
        terminalRows: 15,
        columns: [
          { key: 'at', name: 'time', label: 'Time', format: 'time', width: 7, terminal: { label: 'AT' } },
          { key: 'gate', label: 'Gate', wrap: 'never' },
          { key: 'kind', name: 'decision', label: 'Decision', wrap: 'never', badge: DECISION_BADGE, terminal: { label: 'KIND' } },
          { key: 'symbol', label: 'Symbol' },
          // Whole in the terminal too: a plan id is pasted into grep and `dlq`.
          { key: 'plan_id', name: 'plan', label: 'Plan', format: 'code', width: 9, wrap: 'anywhere' },
          { key: 'action', label: 'Action' },
          { key: 'reason', label: 'Reason', format: 'code', width: 14 },
          // Room for a block's figures and an operator's name and target (governor/decision-detail.ts).
          { key: 'detail', label: 'Detail', width: 18, terminal: { width: 64 } },
          { key: 'mode', label: 'Mode', wrap: 'never', terminal: false },
        ],
      },
    ],
    read,
    merge: (values) => newestFirst(values.flat()),
  });
}
