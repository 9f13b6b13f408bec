import { recordedAtDecision } from '../../handlers/outcomes/heat-follow-up.js';
import { followUpId } from '../../handlers/outcomes/follow-up.js';
import { closedFraction, sideSign } from '../../handlers/outcomes/pnl.js';
import { parseNumber } from '../../schemas/fields.js';
import { parseGovernorEvent, type DecisionEvent } from '../../schemas/governor-event.js';
import { decisionTime } from './calibrate-common.js';

/**
 * The decisions `report outcomes` should have figures for and has none: heat-gate decisions that
 * changed the action and governor blocks of opens in the window, with no follow-up (no sample,
 * no pending entry). Each is named by the reason the follow-up would have skipped it, read from
 * the decision's own record where it says so (the outcome handlers count their skips in
 * quantum_gates_outcome_skipped_total, which a report cannot read back per decision). Pure.
 */

export interface RawEntry {
  readonly id: string;
  readonly fields: Readonly<Record<string, string>>;
}

export interface Unfollowed {
  /** Decisions that changed exposure in the window, and of them those never followed. */
  readonly decisions: number;
  readonly notFollowed: number;
  /** reason → count, the reasons of REASONS. */
  readonly byReason: Readonly<Record<string, number>>;
}

/** The reasons, in words. */
export const REASONS: Readonly<Record<string, string>> = {
  no_price: 'no fresh price when the gate decided',
  no_position: 'no position recorded with the decision',
  no_side: 'no side (long or short) to value it by',
  unpriced: 'no size to value it by (neither notional nor quantity)',
  not_a_downgrade: 'closes at least what was proposed: no exposure kept',
  not_recorded:
    'no follow-up recorded: the outcome handlers were not running, had OUTCOME_MAX_PENDING outstanding, found no price or position themselves, or have not read it yet (quantum_gates_outcome_skipped_total counts their skips)',
};

/** Why the heat follow-up would skip this changed decision, as far as its own record tells. */
function heatReason(fields: Readonly<Record<string, string>>): string {
  const proposed = closedFraction(fields.in_action ?? '');
  const decided = closedFraction(fields.out_action ?? '');
  if (proposed === undefined || decided === undefined || decided >= proposed) return 'not_a_downgrade';
  const recorded = recordedAtDecision(fields.debug_json);
  if (recorded === undefined) return 'not_recorded';
  if (recorded.mark === null) return 'no_price';
  if (recorded.positionUsd === undefined || recorded.positionUsd === 0) return 'no_position';
  return 'not_recorded';
}

function governorReason(event: DecisionEvent): string {
  if (sideSign(event.side) === undefined) return 'no_side';
  const notional = parseNumber(event.computed_notional);
  const qty = parseNumber(event.computed_qty);
  if (!(notional !== undefined && notional > 0) && !(qty !== undefined && qty > 0)) return 'unpriced';
  return 'not_recorded';
}

/**
 * `followed`: the follow-up ids (heat:<entry id>, gov:<entry id>) with a sample or a pending
 * entry. `from`/`to`: the window, on the deciding gate's own time.
 */
export function unfollowedDecisions(
  heat: readonly RawEntry[],
  governor: readonly RawEntry[],
  followed: ReadonlySet<string>,
  from: number,
  to: number,
): Unfollowed {
  const byReason: Record<string, number> = {};
  let decisions = 0;
  const count = (id: string, reason: () => string) => {
    decisions += 1;
    if (followed.has(id)) return;
    const r = reason();
    byReason[r] = (byReason[r] ?? 0) + 1;
  };
  for (const { id, fields } of heat) {
    const at = parseNumber(fields.decided_at_ms) ?? decisionTime(fields.ts_epoch, id);
    const [proposed, decided] = [fields.in_action ?? '', fields.out_action ?? ''];
    if (at < from || at > to || proposed === decided || proposed === '' || decided === '' || !fields.symbol) continue;
    count(followUpId('heat_downgrade', id), () => heatReason(fields));
  }
  for (const { id, fields } of governor) {
    const event = parseGovernorEvent(fields);
    if (event === undefined || event.event !== 'block' || event.kind !== 'open' || !event.symbol || !event.plan_id) continue;
    const at = decisionTime(event.timestamp, id);
    if (at < from || at > to) continue;
    count(followUpId('governor_block', id), () => governorReason(event));
  }
  const notFollowed = Object.values(byReason).reduce((a, b) => a + b, 0);
  return { decisions, notFollowed, byReason };
}

/** One line for the text report; nothing when every decision was followed. */
export function formatUnfollowed(u: Unfollowed): string {
  if (u.notFollowed === 0) return '';
  const reasons = Object.entries(u.byReason)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([r, n]) => `${n} ${r} (${REASONS[r] ?? r})`);
  return `not followed: ${u.notFollowed} of the window's ${u.decisions} decisions that changed exposure have no outcome: ${reasons.join('; ')}.\n`;
}
