import type { RedisClient } from '../runtime/host/index.js';
import type { CliIo } from './io.js';
import type { OperatorEvent } from '../schemas/governor-event.js';
import { appendOperatorEvent, operatorFields } from './operator-event.js';

/** What an operator changed, for quantum:stream:governor.events and the log. */
export interface OperatorAction {
  /** The event name: kill_on, kill_off, disarm_clear. */
  readonly action: OperatorEvent['event'];
  readonly reason: string;
  /** The Redis written (describeRedis: host, port, db; never a password). */
  readonly target: string;
  /** What the action replaced, as the command printed it. */
  readonly previous: string;
  /** Who did it, where the command names them (--by); else the host's user. */
  readonly actor?: string;
  /** A hash that keeps the latest such record (quantum:gates:kill:last_change), with these fields added. */
  readonly record?: { readonly key: string; readonly extra: Readonly<Record<string, string>> };
}

/** The audit of a change already made: its fields, and why it could not be written, if it could not. */
export interface AuditOutcome {
  readonly fields: Record<string, string>;
  readonly failure?: string;
}

/**
 * The event's fields, in the shape the dlq commands record theirs (event, actor, host, ts in
 * milliseconds, reason): an event name of its own (kill_on, kill_off, disarm_clear) beside the
 * governor's permit / block / auto_disarm / cooldown_expired, so no consumer of those is confused.
 */
export function operatorEventFields(action: OperatorAction, io: CliIo): Record<string, string> {
  const fields = operatorFields(io, action.action, action.reason, { target: action.target, previous: action.previous });
  return action.actor === undefined ? fields : { ...fields, actor: action.actor };
}

/**
 * Appends the event to the governor's events stream (STREAM_EVENTS, as the governor reads it) and
 * writes the same record to stderr (the log), which is written first so that the journal keeps it
 * whatever Redis answers. The change it records is already made: a write Redis refuses (the stream
 * or the record's key holds another type, a read-only replica) is answered as the failure, for the
 * command to say after what it changed, never thrown past it. A lost connection is thrown.
 */
export async function recordOperatorAction(redis: RedisClient, io: CliIo, action: OperatorAction): Promise<AuditOutcome> {
  const fields = operatorEventFields(action, io);
  io.err(`quantum-gates: audit ${JSON.stringify(fields)}`);
  const failures: string[] = [];
  const attempt = async (what: string, write: () => Promise<unknown>) => {
    try {
      await write();
    } catch (error) {
      if (!isRefusal(error)) throw error;
      failures.push(`${what}: ${(error as Error).message}`);
    }
  };
  await attempt('the audit event', () => appendOperatorEvent(redis, io, fields));
  const record = action.record;
  if (record !== undefined) await attempt(`the record ${record.key}`, () => redis.hset(record.key, { ...fields, ...record.extra }));
  return failures.length === 0 ? { fields } : { fields, failure: failures.join('; ') };
}

/** An error reply of Redis to the command itself (WRONGTYPE, READONLY, OOM, NOPERM ...), not a lost connection. */
function isRefusal(error: unknown): boolean {
  return error instanceof Error && /^[A-Z][A-Z_]+ /.test(error.message);
}

/** "the kill switch is now ON, but its audit was not written (...): it is only in this command's stderr above". */
export function auditFailureMessage(done: string, failure: string): string {
  return `${done}, but its audit was not written (${failure}); the record is in the "quantum-gates: audit" line above only, so keep it`;
}
