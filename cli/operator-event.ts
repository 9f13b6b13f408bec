import { hostname, userInfo } from 'node:os';
import type { RedisClient } from '../runtime/host/index.js';
import { encodeGovernorEvent, type OperatorEvent } from '../schemas/governor-event.js';
import { streams } from '../schemas/keys.js';
import type { CliIo } from './io.js';

/** At most this many ids are listed in one event; `count` always says how many there were. */
const IDS_IN_EVENT = 100;

/** Who ran the command: the operator behind sudo when there is one. */
export function actorOf(io: CliIo): string {
  const fromEnv = io.env.SUDO_USER ?? io.env.USER ?? io.env.LOGNAME;
  if (fromEnv) return fromEnv;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** An operator event's own fields, beside event, actor, host, ts and reason (schemas/governor-event.ts). */
export type OperatorExtra = Partial<Omit<OperatorEvent, 'event' | 'actor' | 'host' | 'ts' | 'reason'>>;

export interface OperatorAction {
  /** The event name, e.g. dlq_replay. */
  readonly event: OperatorEvent['event'];
  /** Why the operator did it (--reason); empty when none was given. */
  readonly reason: string;
  readonly ids: readonly string[];
  readonly extra?: OperatorExtra;
}

/**
 * Records an operator's write on the governor events stream (STREAM_EVENTS, the stream the
 * status page and the audit trail read): event, actor, host, ts (ms), reason, count, ids. Says
 * so on stderr, which the unit's journal keeps. Returns the event id.
 */
export async function recordOperatorAction(redis: RedisClient, io: CliIo, action: OperatorAction): Promise<{ failure?: string }> {
  const shown = action.ids.slice(0, IDS_IN_EVENT).join(',');
  const fields = operatorFields(io, action.event, action.reason, {
    count: String(action.ids.length),
    ids: action.ids.length > IDS_IN_EVENT ? `${shown},...` : shown,
    ...action.extra,
  });
  let appended: { id: string; stream: string };
  try {
    appended = await appendOperatorEvent(redis, io, fields);
  } catch (error) {
    // The change is made already: Redis refusing its record (the stream holds another type, a
    // read-only replica) is said after what was done, with the record kept on stderr.
    if (!(error instanceof Error) || !/^[A-Z][A-Z_]+ /.test(error.message)) throw error;
    io.err(`quantum-gates: audit ${JSON.stringify(fields)}`);
    return { failure: `the audit event: ${error.message}` };
  }
  io.err(
    `recorded ${action.event} of ${action.ids.length} by ${fields.actor}@${fields.host}${action.reason ? ` (reason: ${action.reason})` : ''} as ${appended.id} on ${appended.stream}`,
  );
  return {};
}

/** One operator event's fields: event, actor, host, ts (ms), reason, then the command's own. */
export function operatorFields(
  io: CliIo,
  event: OperatorEvent['event'],
  reason: string,
  extra: OperatorExtra = {},
): Record<string, string> {
  return encodeGovernorEvent({ event, actor: actorOf(io), host: hostname(), ts: String(io.now()), reason, ...extra });
}

/** Appends an operator event to the governor events stream (STREAM_EVENTS, as the governor reads it). */
export async function appendOperatorEvent(
  redis: RedisClient,
  io: CliIo,
  fields: Readonly<Record<string, string>>,
): Promise<{ id: string; stream: string }> {
  const stream = io.env.STREAM_EVENTS?.trim() || streams.governorEvents;
  const id = (await redis.xadd(stream, '*', ...Object.entries(fields).flat())) ?? '';
  return { id, stream };
}
