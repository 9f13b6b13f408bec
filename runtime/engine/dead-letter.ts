import type { Fields } from './effects.js';
import { slotTag } from './connection.js';
import { lua } from './lua.js';

export type DeadLetterReason = 'invalid_input' | 'handler_failed' | 'fallback_failed' | 'too_many_deliveries' | 'commit_failed';

/** Values longer than this are cut in the dead-letter copy; the original stays in its source stream. */
export const DEAD_LETTER_VALUE_LIMIT = 64 * 1024;

export interface DeadLetter {
  readonly handler: string;
  readonly sourceStream: string;
  readonly sourceId: string;
  readonly group: string;
  readonly reason: DeadLetterReason;
  readonly detail: string;
  readonly attempts: number;
  readonly raw: Readonly<Record<string, string>>;
  readonly at: number;
}

export function deadLetterFields(letter: DeadLetter): Fields {
  let truncated = false;
  const kept: Record<string, string> = {};
  for (const [field, value] of Object.entries(letter.raw)) {
    if (value.length > DEAD_LETTER_VALUE_LIMIT) truncated = true;
    kept[field] = value.slice(0, DEAD_LETTER_VALUE_LIMIT);
  }
  return {
    handler: letter.handler,
    source_stream: letter.sourceStream,
    source_id: letter.sourceId,
    group: letter.group,
    reason: letter.reason,
    error: letter.detail.slice(0, DEAD_LETTER_VALUE_LIMIT),
    attempts: String(letter.attempts),
    fields: JSON.stringify(kept),
    truncated: truncated ? '1' : '0',
    dead_lettered_at: String(letter.at),
  };
}

/**
 * The sorted set of one gate's dead letters, so one gate's flood trims only its own (see
 * docs/architecture.md, "Dead letters"); in the stream's slot, so one script can touch both.
 */
export function deadLetterIndexKey(stream: string, gate: string): string {
  return slotTag(stream) !== stream ? `${stream}:gate:${gate}` : `{${stream}}:gate:${gate}`;
}

/** The entry id with its sequence zero-padded, so members of one millisecond sort as the stream does. */
export function deadLetterIndexMember(id: string): string {
  const dash = id.indexOf('-');
  return `${id.slice(0, dash)}-${id.slice(dash + 1).padStart(20, '0')}`;
}

export interface DeadLetterDestination {
  readonly stream: string;
  readonly maxLen: number;
  /** Absent for a destination bounded by length only (tests). */
  readonly index?: string;
}

export function deadLetterDestination(
  config: { readonly DLQ_STREAM: string; readonly DLQ_MAXLEN: number },
  gate: string,
): DeadLetterDestination {
  return { stream: config.DLQ_STREAM, maxLen: config.DLQ_MAXLEN, index: deadLetterIndexKey(config.DLQ_STREAM, gate) };
}

/** "Append a dead letter, bounded per gate" (stream, index, maxLen, fields…): inline in the batch script, else an EVAL. */
export const DEAD_LETTER_APPEND = 'QG_DEAD_LETTER_APPEND';

/**
 * Lua: dead_letter_append(stream, index, maxLen, values, from) appends, indexes, and past maxLen
 * (0: none) removes the gate's oldest; returns how many entries it removed, or the refusal's error.
 */
export const DEAD_LETTER_APPEND_FUNCTION = lua('dead-letter-append');

export const DEAD_LETTER_APPEND_SCRIPT = `${DEAD_LETTER_APPEND_FUNCTION}\n${lua('dead-letter-append-script')}`;
