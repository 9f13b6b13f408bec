import type { Fields } from './effects.js';
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

/** The dead-letter stream entry: everything needed to see why, and to replay. */
export function deadLetterFields(letter: DeadLetter): Fields {
  let truncated = false;
  const kept: Record<string, string> = {};
  for (const [field, value] of Object.entries(letter.raw)) {
    if (value.length > DEAD_LETTER_VALUE_LIMIT) {
      truncated = true;
      kept[field] = value.slice(0, DEAD_LETTER_VALUE_LIMIT);
    } else {
      kept[field] = value;
    }
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
 * The sorted set of one gate's dead letters in the dead-letter stream, oldest first: what keeps
 * each gate's share of the one stream bounded by DLQ_MAXLEN, so one gate's flood (a producer
 * bug) trims only that gate's own dead letters (see docs/architecture.md, "Dead letters").
 * It lives in the stream's hash slot (the stream's name as its hash tag, or the stream's own tag),
 * so one script can touch both on a cluster.
 */
export function deadLetterIndexKey(stream: string, gate: string): string {
  const open = stream.indexOf('{');
  const close = open >= 0 ? stream.indexOf('}', open + 1) : -1;
  const tagged = close > open + 1;
  return tagged ? `${stream}:gate:${gate}` : `{${stream}}:gate:${gate}`;
}

/**
 * A member of the index: the entry id with its sequence zero-padded, so that members of one
 * millisecond (one score) sort by sequence, as the stream does.
 */
export function deadLetterIndexMember(id: string): string {
  const dash = id.indexOf('-');
  return `${id.slice(0, dash)}-${id.slice(dash + 1).padStart(20, '0')}`;
}

/** Where a gate's dead letters go: the dead-letter stream, its bound per gate and its index. */
export interface DeadLetterDestination {
  readonly stream: string;
  readonly maxLen: number;
  /** The gate's index (deadLetterIndexKey); absent for a destination bounded by length only (tests). */
  readonly index?: string;
}

export function deadLetterDestination(
  config: { readonly DLQ_STREAM: string; readonly DLQ_MAXLEN: number },
  gate: string,
): DeadLetterDestination {
  return { stream: config.DLQ_STREAM, maxLen: config.DLQ_MAXLEN, index: deadLetterIndexKey(config.DLQ_STREAM, gate) };
}

/**
 * The command name a commit uses for "append a dead letter, bounded per gate": the batch script
 * runs it inline (DEAD_LETTER_APPEND_FUNCTION); a plain transaction and a cluster commit send it as
 * EVAL of DEAD_LETTER_APPEND_SCRIPT. Arguments: stream, index, maxLen, then fields and values.
 */
export const DEAD_LETTER_APPEND = 'QG_DEAD_LETTER_APPEND';

/**
 * Lua: dead_letter_append(stream, index, maxLen, values, from) appends values[from..] (fields
 * and values) to the stream, records the new id in the gate's index, and, past maxLen (0: no
 * bound), removes that gate's oldest dead letters from both. Returns how many entries it removed
 * from the stream (an id whose entry an operator already dropped or replayed removes nothing and
 * is not counted), or Redis's error (as a table) for a write refused: exact, atomic.
 */
export const DEAD_LETTER_APPEND_FUNCTION = lua('dead-letter-append');

/** KEYS: stream, index; ARGV: maxLen, then fields and values (a DEAD_LETTER_APPEND command's arguments). */
export const DEAD_LETTER_APPEND_SCRIPT = `${DEAD_LETTER_APPEND_FUNCTION}\n${lua('dead-letter-append-script')}`;
