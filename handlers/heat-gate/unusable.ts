import { proposalSymbolSchema } from '../../schemas/harvest-proposal.js';

/**
 * Entries of quantum:stream:harvest.proposal that real producers write and no heat gate can use:
 * acknowledged and counted by reason (quantum_heat_gate_unusable_entries_total), never
 * dead-lettered, and never the source of an action written over the kernel's hash.
 * - `heat_gate_decision`: upstream's other heat gate (microservices/heat_gate/logic.py at
 *   73fab1f55 lines 235-250 and 279-294), rerouted into this stream as deployed
 *   (ops_ledger/OPS-2026-01-31-heat-gate-stream-fix.yaml, HEAT_STREAM_OUT), writes its decisions
 *   here: in_action, out_action, `action` = out_action (NOOP when it fails closed), no harvest_action.
 * - `no_action`: neither a harvest_action nor an action field.
 * - `unproposed_action`: an action no proposer writes (NOOP, UNKNOWN: the other heat gate's
 *   fail-closed answer and its default in_action).
 * An entry without a usable symbol is nobody's: the schema dead-letters it.
 */
export const unusableReasons = ['heat_gate_decision', 'no_action', 'unproposed_action'] as const;
export type UnusableReason = (typeof unusableReasons)[number];

const UNPROPOSED: ReadonlySet<string> = new Set(['NOOP', 'UNKNOWN']);

export function unusableReason(raw: Readonly<Record<string, string>>): UnusableReason | undefined {
  const reason = reasonOf(raw);
  // Asked of every entry: the symbol's schema runs only for the few that have a reason.
  return reason !== undefined && proposalSymbolSchema.safeParse(raw.symbol).success ? reason : undefined;
}

function reasonOf(raw: Readonly<Record<string, string>>): UnusableReason | undefined {
  // A kernel proposal: harvest_action is read first, whatever else the entry holds.
  if (raw.harvest_action !== undefined) return undefined;
  if (raw.out_action !== undefined || raw.in_action !== undefined) return 'heat_gate_decision';
  // An empty action is a malformed proposal, not a missing one: the schema dead-letters it.
  if (raw.action === undefined) return 'no_action';
  if (UNPROPOSED.has(raw.action)) return 'unproposed_action';
  return undefined;
}
