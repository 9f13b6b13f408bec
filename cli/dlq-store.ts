import { Cluster } from 'ioredis';
import type { RedisClient } from '../runtime/redis.js';
import { fieldsToRecord } from '../schemas/fields.js';

/** A dead-letter stream entry as runtime/dead-letter.ts writes it. */
export interface DeadLetterEntry {
  readonly id: string;
  readonly handler: string;
  readonly sourceStream: string;
  readonly sourceId: string;
  readonly group: string;
  readonly reason: string;
  readonly error: string;
  readonly attempts: number;
  /** The original entry's fields; undefined when the stored JSON cannot be read. */
  readonly fields: Record<string, string> | undefined;
  readonly truncated: boolean;
  readonly deadLetteredAt: number;
}

export interface EntryFilter {
  readonly reason?: string | undefined;
  readonly handler?: string | undefined;
}

type RawEntry = [id: string, fields: string[]];

export const STREAM_ID = /^\d+-\d+$/;

export function toDeadLetter(id: string, list: readonly string[]): DeadLetterEntry {
  const raw = fieldsToRecord(list);
  let fields: Record<string, string> | undefined;
  try {
    const parsed: unknown = JSON.parse(raw.fields ?? '');
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      fields = Object.fromEntries(Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    }
  } catch {
    fields = undefined;
  }
  return {
    id,
    handler: raw.handler ?? '',
    sourceStream: raw.source_stream ?? '',
    sourceId: raw.source_id ?? '',
    group: raw.group ?? '',
    reason: raw.reason ?? '',
    error: raw.error ?? '',
    attempts: Number(raw.attempts ?? 0),
    fields,
    truncated: raw.truncated === '1',
    deadLetteredAt: Number(raw.dead_lettered_at ?? id.split('-')[0]),
  };
}

export function matches(entry: DeadLetterEntry, filter: EntryFilter): boolean {
  return (filter.reason === undefined || entry.reason === filter.reason) && (filter.handler === undefined || entry.handler === filter.handler);
}

const CHUNK = 500;

/**
 * Reads the dead-letter stream in chunks (it may hold up to DLQ_MAXLEN entries), newest first
 * or oldest first, keeping those that pass the filter, up to `limit`.
 */
export async function scan(
  redis: RedisClient,
  stream: string,
  { filter = {}, limit = Infinity, newestFirst = false }: { filter?: EntryFilter; limit?: number; newestFirst?: boolean } = {},
): Promise<DeadLetterEntry[]> {
  const found: DeadLetterEntry[] = [];
  let bound = newestFirst ? '+' : '-';
  for (;;) {
    const chunk = (
      newestFirst ? await redis.xrevrange(stream, bound, '-', 'COUNT', CHUNK) : await redis.xrange(stream, bound, '+', 'COUNT', CHUNK)
    ) as RawEntry[];
    for (const [id, list] of chunk) {
      const entry = toDeadLetter(id, list);
      if (matches(entry, filter)) found.push(entry);
      if (found.length >= limit) return found;
    }
    if (chunk.length < CHUNK) return found;
    // Exclusive bounds continue after the last id seen (Redis 6.2+).
    bound = `(${chunk[chunk.length - 1]![0]}`;
  }
}

export async function readEntry(redis: RedisClient, stream: string, id: string): Promise<DeadLetterEntry | undefined> {
  const [entry] = (await redis.xrange(stream, id, id)) as RawEntry[];
  return entry ? toDeadLetter(entry[0], entry[1]) : undefined;
}

/** The original entry, re-read from its source stream; undefined once trimmed away. */
export async function readSource(redis: RedisClient, entry: DeadLetterEntry): Promise<Record<string, string> | undefined> {
  if (!STREAM_ID.test(entry.sourceId) || entry.sourceStream === '') return undefined;
  const [original] = (await redis.xrange(entry.sourceStream, entry.sourceId, entry.sourceId)) as RawEntry[];
  if (!original) return undefined;
  return fieldsToRecord(original[1]);
}

/**
 * Deletes the dead letter and appends its fields to the source stream in one step, and only if
 * the dead letter was still there: two operators replaying the same entry cannot both re-add it.
 */
const REPLAY_SCRIPT = `
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return false end
return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
`;

/** Returns the new entry id, or undefined when the dead letter was already gone. */
export async function replayEntry(redis: RedisClient, dlq: string, id: string, target: string, fields: Record<string, string>): Promise<string | undefined> {
  const flat = Object.entries(fields).flat();
  if (redis instanceof Cluster) {
    // The two streams may live in different slots, where a script cannot touch both. XDEL first
    // still makes the entry ours; if the XADD then fails the error carries the fields.
    if ((await redis.xdel(dlq, id)) === 0) return undefined;
    try {
      return (await redis.xadd(target, '*', ...flat)) ?? undefined;
    } catch (error) {
      throw new Error(`removed ${id} from the dead-letter stream but could not add it to ${target}: ${(error as Error).message}; fields: ${JSON.stringify(fields)}`);
    }
  }
  const result = (await redis.eval(REPLAY_SCRIPT, 2, dlq, target, id, ...flat)) as string | null;
  return result ?? undefined;
}
