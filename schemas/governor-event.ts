import * as z from 'zod';

/**
 * Entries of quantum:stream:governor.events (STREAM_EVENTS), every kind that is written there:
 * - AUTO_DISARM, the original governor's only event (8f5055c52 _trigger_disarm: event, reason,
 *   context as JSON, timestamp, action_taken);
 * - permit and block, one per decision (ours: the audit trail; the original logged them);
 * - cooldown_expired (ours: the end of a symbol cooldown);
 * - operator events: kill_on, kill_off, disarm_clear (cli/audit.ts), dlq_replay, dlq_drop
 *   (cli/operator-event.ts) and bull_board (the dashboard).
 * Writers build the fields through encodeGovernorEvent, readers parse with parseGovernorEvent,
 * so a renamed field is a type error. Values are strings, as on the wire.
 */

const text = z.string().max(10_000);
const optionalText = text.optional();

const decisionFields = {
  plan_id: text,
  symbol: text,
  action: text,
  decision: text,
  side: text,
  /** The apply.plan entry's id. */
  source_id: text,
  /** Epoch seconds, as Python's str(time.time()). */
  timestamp: text,
  reason: text,
  /** The APPLY_MODE path that decided (testnet, production, dry_run). */
  apply_mode: optionalText,
  /** open or close; absent when the plan's facts were never read (an evaluation error). */
  kind: optionalText,
  computed_qty: optionalText,
  computed_notional: optionalText,
  kill_score: optionalText,
  plan_age_sec: optionalText,
  exec_count_hour: optionalText,
  exec_count_5min: optionalText,
  open_positions: optionalText,
  total_notional: optionalText,
  /** Ours (issue #37): open positions no producer prices, comma-separated symbols; absent when none. */
  unpriced_positions: optionalText,
  /**
   * Ours (issue #59): the keys of the position book's listing reads Redis refused (another type, no
   * permission), comma-separated; absent when every listing was read. Opens are blocked positions_unreadable.
   */
  unreadable_listings: optionalText,
  /**
   * Ours (issue #70): the plan's own symbol's quotes and position figures refused, `source:reason`
   * comma-separated (`ticker:future`, `market_state:unparsable`, `p33:unreadable`); absent when none.
   * What remains of its price is not cross-checked: opens are blocked market_price_unknown.
   */
  refused_inputs: optionalText,
  /** Ours (issue #23): outstanding reservations at decision time, their position slots and notional. */
  reservations: optionalText,
  reserved_positions: optionalText,
  reserved_notional: optionalText,
  /**
   * Ours (issue #26): the mark the decision priced the symbol at (handlers/positions/prices.ts),
   * absent when none was fresh; the outcome follow-up values a blocked open from it.
   */
  mark_price: optionalText,
  /** The error behind an evaluation_error block. */
  error: optionalText,
  /**
   * Ours (issue #26): what the gates' rules read for this decision, as JSON
   * (handlers/governor/decision-inputs.ts), so `report calibrate` decides it again under other
   * limits with the same functions. Absent where no rule ran (an evaluation error, a reused plan_id).
   */
  decision_inputs: optionalText,
  /**
   * Ours (issue #40): the quote mark_price is, named as the heat gate names it in debug_json:
   * its source (market_state, p33, ticker, position), its time (epoch ms) and its age at the
   * decision (ms). Time and age are absent for a quote of no time (the seeds' market state);
   * all three with mark_price. The outcome follow-up records them as the entry price's.
   */
  mark_source: optionalText,
  mark_at: optionalText,
  mark_age_ms: optionalText,
};

export const permitEventSchema = z.object({ event: z.literal('permit'), ...decisionFields });
export const blockEventSchema = z.object({ event: z.literal('block'), ...decisionFields });

export const autoDisarmEventSchema = z.object({
  event: z.literal('AUTO_DISARM'),
  reason: text,
  /** JSON: {error_count, threshold} or {symbol, exec_5min, limit}. */
  context: text,
  timestamp: text,
  action_taken: text,
});

export const cooldownExpiredEventSchema = z.object({
  event: z.literal('cooldown_expired'),
  symbol: text,
  plan_id: text,
  /** Epoch seconds. */
  started_at: text,
  cooldown_until: text,
  timestamp: text,
});

export const operatorEventNames = [
  'kill_on',
  'kill_off',
  'disarm_clear',
  'dlq_replay',
  'dlq_drop',
  'bull_board',
  'positions_clear',
] as const;

export const operatorEventSchema = z.object({
  event: z.enum(operatorEventNames),
  actor: text,
  host: text,
  /** Epoch milliseconds. */
  ts: text,
  reason: text,
  /** kill_*, disarm_clear, positions_clear: the Redis written and what the action replaced. */
  target: optionalText,
  previous: optionalText,
  /** dlq_*: how many entries, their ids (at most 100, then ",..."), the dead-letter stream. */
  count: optionalText,
  ids: optionalText,
  dlq_stream: optionalText,
  forced: optionalText,
  /** bull_board: the request and its HTTP status. */
  request: optionalText,
  status: optionalText,
});

export const governorEventSchema = z.discriminatedUnion('event', [
  permitEventSchema,
  blockEventSchema,
  autoDisarmEventSchema,
  cooldownExpiredEventSchema,
  operatorEventSchema,
]);

export type GovernorEvent = z.infer<typeof governorEventSchema>;
export type DecisionEvent = z.infer<typeof permitEventSchema> | z.infer<typeof blockEventSchema>;
export type OperatorEvent = z.infer<typeof operatorEventSchema>;

/** The entry's fields (absent optional fields are left out). */
export function encodeGovernorEvent(event: GovernorEvent): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(event)) if (value !== undefined) fields[name] = value as string;
  return fields;
}

/** An entry's fields as a known event; undefined for an entry of another kind or shape. */
export function parseGovernorEvent(fields: Readonly<Record<string, string>>): GovernorEvent | undefined {
  const parsed = governorEventSchema.safeParse({ ...fields });
  return parsed.success ? parsed.data : undefined;
}
