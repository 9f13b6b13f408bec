import { EntryWithoutBase, KEY_ENTRY_EVERY, TapeDecoder, tapeKey, type TapeRecord } from './format.js';

/** The read a tape's reader makes (ioredis's xrangeBuffer). */
export interface TapeRange {
  xrangeBuffer(key: string, start: string, end: string, count: 'COUNT', n: number): Promise<[Buffer, Buffer[]][]>;
}

/** A tape entry as read: its records, or why it does not decode. */
export type TapeEntry = { readonly id: string; readonly records: TapeRecord[] } | { readonly id: string; readonly error: string };

const PAGE = 500;

/**
 * A gate's tape entries from `since` (ms, Redis's clock: an entry's id) on, oldest first. An entry
 * may continue its writer's entry before it (format.ts EntryHead), so reading starts twice
 * KEY_ENTRY_EVERY.ms earlier, where each writer's key entry is, and what is before `since` is only
 * decoded. An entry whose writer's key entry is not on the tape (trimmed: the tape's oldest) is not
 * told: the trim took it with its key entry.
 */
export async function* tapeEntries(redis: TapeRange, gate: string, since: number | undefined): AsyncGenerator<TapeEntry> {
  const decoder = new TapeDecoder();
  let start = since === undefined ? '-' : `${Math.max(0, since - 2 * KEY_ENTRY_EVERY.ms)}-0`;
  for (;;) {
    const page = await redis.xrangeBuffer(tapeKey(gate), start, '+', 'COUNT', PAGE);
    for (const [rawId, fields] of page) {
      const id = rawId.toString();
      const inWindow = since === undefined || Number(id.split('-')[0]) >= since;
      try {
        const records = decoder.decode(fields);
        if (inWindow) yield { id, records };
      } catch (error) {
        if (inWindow && !(error instanceof EntryWithoutBase)) yield { id, error: error instanceof Error ? error.message : String(error) };
      }
    }
    if (page.length < PAGE) return;
    start = `(${page.at(-1)![0].toString()}`;
  }
}
