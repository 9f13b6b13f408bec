import * as z from 'zod';
import { pyFloat, pyJsonDumps, type PyJson } from './python-json.js';

/**
 * The JSON keys the governor writes, as the original P3.2 governor (8f5055c52) wrote them:
 * quantum:permit:{plan_id}, quantum:governor:block:{plan_id} and quantum:governor:disarm:{date}.
 * Writers encode through these functions (Python's json.dumps layout, floats as floats), readers
 * parse with the schemas, so a renamed field is a type error.
 */

/** _issue_permit: setex(permit_key, 60, …). */
export const PERMIT_TTL_SEC = 60;
/** _block_plan: setex(block_key, 3600, …). */
export const BLOCK_TTL_SEC = 3600;
/** _trigger_disarm: 24 h once the disarm is done, 1 h when it failed ("avoid spam"). */
export const DISARM_RECORD_TTL_SEC = 86_400;

export const permitSchema = z.object({
  granted: z.boolean(),
  symbol: z.string(),
  decision: z.string(),
  computed_qty: z.number(),
  computed_notional: z.number(),
  /** Epoch seconds (time.time()). */
  created_at: z.number(),
  consumed: z.boolean(),
});
export type Permit = z.infer<typeof permitSchema>;

export function encodePermit(permit: Permit): string {
  return pyJsonDumps({
    granted: permit.granted,
    symbol: permit.symbol,
    decision: permit.decision,
    computed_qty: pyFloat(permit.computed_qty),
    computed_notional: pyFloat(permit.computed_notional),
    created_at: pyFloat(permit.created_at),
    consumed: permit.consumed,
  } satisfies Record<keyof Permit, PyJson>);
}

export const blockRecordSchema = z.object({
  reason: z.string(),
  /** Epoch seconds. */
  timestamp: z.number(),
  symbol: z.string(),
});
export type BlockRecord = z.infer<typeof blockRecordSchema>;

export function encodeBlockRecord(block: BlockRecord): string {
  return pyJsonDumps({ reason: block.reason, timestamp: pyFloat(block.timestamp), symbol: block.symbol } satisfies Record<
    keyof BlockRecord,
    PyJson
  >);
}

/** The context of a disarm: {error_count, threshold} or {symbol, exec_5min, limit}, ints and strings. */
const disarmContextSchema = z.record(z.string(), z.union([z.string(), z.number()]));

export const disarmRecordSchema = z.object({
  reason: z.string(),
  context: disarmContextSchema.optional(),
  /** Written instead of context when the disarm action failed. */
  error: z.string().optional(),
  timestamp: z.number(),
});
export type DisarmRecord = z.infer<typeof disarmRecordSchema>;

export function encodeDisarmRecord(record: DisarmRecord): string {
  const out: Record<string, PyJson> = { reason: record.reason };
  if (record.context !== undefined) out.context = record.context;
  if (record.error !== undefined) out.error = record.error;
  out.timestamp = pyFloat(record.timestamp);
  return pyJsonDumps(out);
}
