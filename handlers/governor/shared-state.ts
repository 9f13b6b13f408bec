import type { EarlierDecision } from '../../runtime/contract/index.js';
import type { ApplyPlan } from '../../schemas/apply-plan.js';
import { keys } from '../../schemas/keys.js';
import type { GovernorConfig } from './config.js';

/**
 * Whether a plan may be decided on the state read for the plans before it in its batch, not yet
 * committed (BatchHints.sharesState): only when each of them is of another symbol and another
 * plan_id and wrote nothing but its own plan's keys, its own symbol's and the events stream. A
 * plan reads those of its own plan and symbol only, so it decides as it would on state read after
 * they committed. Everything else a decision writes (a reservation and the caps version, the
 * position index's watch, a disarm, a counted error) is read by every plan after it: that plan
 * is decided once they commit, on state read again.
 */
export function sharesState(plan: ApplyPlan, earlier: readonly EarlierDecision<ApplyPlan>[], config: GovernorConfig): boolean {
  return earlier.every(
    (decision) => decision.message.symbol !== plan.symbol && decision.message.plan_id !== plan.plan_id && wroteOnlyItsOwn(decision, config),
  );
}

/** Judged once a decision (a run asks of each earlier plan again for every plan after it). */
const judged = new WeakMap<EarlierDecision<ApplyPlan>, boolean>();

function wroteOnlyItsOwn(decision: EarlierDecision<ApplyPlan>, config: GovernorConfig): boolean {
  let only = judged.get(decision);
  if (only === undefined) {
    const { message, writes } = decision;
    const own = ownKeys(message);
    const daily = dailyPrefix(message.symbol);
    // The book's memory (keys.positionsHeld) is written from the book as read: a plan sharing that
    // read writes the same memory, so it decides as it would after the earlier commit.
    only = writes.every((key) => key === config.STREAM_EVENTS || key === keys.positionsHeld || own.has(key) || key.startsWith(daily));
    judged.set(decision, only);
  }
  return only;
}

/** The keys of a plan's own plan_id and symbol that its decision may write (record.ts). */
function ownKeys(plan: ApplyPlan): Set<string> {
  return new Set([
    keys.governorPermitted(plan.plan_id),
    keys.permit(plan.plan_id),
    keys.governorBlock(plan.plan_id),
    keys.governorSymbolVersion(plan.symbol),
    keys.governorLastExec(plan.symbol),
    keys.governorExecutions(plan.symbol),
    keys.governorExitLock(plan.symbol),
  ]);
}

/** The symbol's daily totals, one key a day (symbols never hold ':'). */
const dailyPrefix = (symbol: string) => keys.governorDaily(symbol, '');
