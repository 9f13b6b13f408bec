import type { RedisClient } from '../runtime/host/redis.js';
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
}

/**
 * The event's fields, in the shape the dlq commands record theirs (event, actor, host, ts in
 * milliseconds, reason): an event name of its own (kill_on, kill_off, disarm_clear) beside the
 * governor's permit / block / auto_disarm / cooldown_expired, so no consumer of those is confused.
 */
export function operatorEventFields(action: OperatorAction, io: CliIo): Record<string, string> {
  return operatorFields(io, action.action, action.reason, { target: action.target, previous: action.previous });
}

/** Appends the event to the governor's events stream (STREAM_EVENTS, as the governor reads it) and writes the same record to stderr (the log). */
export async function recordOperatorAction(redis: RedisClient, io: CliIo, action: OperatorAction): Promise<Record<string, string>> {
  const fields = operatorEventFields(action, io);
  await appendOperatorEvent(redis, io, fields);
  io.err(`quantum-gates: audit ${JSON.stringify(fields)}`);
  return fields;
}
