import type { Fields } from './effects.js';
import type { DeadLetterReason } from './execute.js';

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
