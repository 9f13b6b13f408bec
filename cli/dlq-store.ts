import { readFileSync } from 'node:fs';
import { Cluster } from 'ioredis';
import { deadLetterIndexKey, deadLetterIndexMember, type RedisClient } from '../runtime/host/index.js';
import { fieldsToRecord } from '../schemas/fields.js';

/** A dead-letter stream entry as runtime/engine/dead-letter.ts writes it. */
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
  return (
    (filter.reason === undefined || entry.reason === filter.reason) && (filter.handler === undefined || entry.handler === filter.handler)
  );
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
 * Appends the fields to the source stream, then deletes the dead letter, in one script, and only
 * if the dead letter is still there: two operators replaying the same entry cannot both re-add it.
 * The XADD is the script's first write, so when it fails (the source key holds another type,
 * Redis is out of memory or read-only) the script stops before the XDEL and the dead letter stays.
 * The entry also leaves its gate's index (deadLetterIndexKey), so it no longer takes a place of
 * the gate's DLQ_MAXLEN; an entry from before the index (or of another format) is in none.
 * KEYS: the DLQ, the target stream, the gate's index; ARGV: the dead letter's id, its index
 * member, then the fields. Read at load: `../cli/lua/` is cli/lua/ in the sources, and
 * dist/cli/lua/ from any bundled module (scripts/bundle.mjs copies it there).
 */
const REPLAY_SCRIPT = readFileSync(new URL('../cli/lua/dlq-replay.lua', import.meta.url), 'utf8');

/**
 * Lua's unpack (and so the script) takes about 8,000 values; an entry with more fields cannot
 * move in one script, and is refused rather than moved in two steps.
 */
export const MAX_REPLAY_FIELDS = 3_900;

/** Why a replay left the dead letter where it was. */
export class ReplayWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayWriteError';
  }
}

/**
 * Returns the new entry id, or undefined when the dead letter was already gone. Throws
 * ReplayWriteError when the entry could not be written; the dead letter then stays.
 */
export async function replayEntry(
  redis: RedisClient,
  dlq: string,
  entry: Pick<DeadLetterEntry, 'id' | 'handler'>,
  target: string,
  fields: Record<string, string>,
): Promise<string | undefined> {
  const { id } = entry;
  const index = deadLetterIndexKey(dlq, entry.handler);
  const flat = Object.entries(fields).flat();
  if (flat.length / 2 > MAX_REPLAY_FIELDS) {
    throw new ReplayWriteError(`${flat.length / 2} fields, more than the ${MAX_REPLAY_FIELDS} one atomic replay can carry`);
  }
  if (redis instanceof Cluster) return replayAcrossSlots(redis, dlq, entry, target, flat);
  try {
    const result = (await redis.eval(REPLAY_SCRIPT, 3, dlq, target, index, id, deadLetterIndexMember(id), ...flat)) as string | null;
    return result ?? undefined;
  } catch (error) {
    throw new ReplayWriteError(`could not add it to ${target}: ${firstLine(error)}`);
  }
}

/**
 * On a cluster the two streams may live in different slots, where no script or transaction
 * spans both. A short claim key keeps two operators from replaying the same entry; the XADD
 * comes first, so a failed write leaves the dead letter. (A crash between the two steps leaves
 * both; the replayed entry's replayed_from names the dead letter to drop.)
 */
async function replayAcrossSlots(
  redis: Cluster,
  dlq: string,
  entry: Pick<DeadLetterEntry, 'id' | 'handler'>,
  target: string,
  flat: string[],
): Promise<string | undefined> {
  const { id } = entry;
  const claim = `${dlq}:replaying:${id}`;
  if ((await redis.set(claim, '1', 'PX', 60_000, 'NX')) === null) return undefined;
  try {
    if ((await redis.xrange(dlq, id, id)).length === 0) return undefined;
    let newId: string | null;
    try {
      newId = await redis.xadd(target, '*', ...flat);
    } catch (error) {
      throw new ReplayWriteError(`could not add it to ${target}: ${firstLine(error)}`);
    }
    await redis.xdel(dlq, id);
    await forget(redis, dlq, [entry]);
    return newId ?? undefined;
  } finally {
    await redis.del(claim);
  }
}

/**
 * Deletes the given dead letters; returns those that were still there (an entry replayed or
 * dropped meanwhile by someone else is not counted as dropped by this call).
 */
export async function dropEntries(
  redis: RedisClient,
  dlq: string,
  entries: readonly Pick<DeadLetterEntry, 'id' | 'handler'>[],
): Promise<{ dropped: string[]; gone: string[] }> {
  const dropped: string[] = [];
  const gone: string[] = [];
  const counts = await Promise.all(entries.map((entry) => redis.xdel(dlq, entry.id)));
  counts.forEach((n, i) => (n > 0 ? dropped : gone).push(entries[i]!.id));
  await forget(redis, dlq, entries);
  return { dropped, gone };
}

/**
 * Takes entries that left the dead-letter stream out of their gates' indexes, so they no longer
 * take places of the gates' DLQ_MAXLEN. Best effort: an id left behind only makes its gate keep
 * one dead letter fewer until the bound pops it (popping an id already gone is not counted as
 * trimmed).
 */
async function forget(redis: RedisClient, dlq: string, entries: readonly Pick<DeadLetterEntry, 'id' | 'handler'>[]): Promise<void> {
  const byIndex = new Map<string, string[]>();
  for (const entry of entries) {
    const index = deadLetterIndexKey(dlq, entry.handler);
    byIndex.set(index, [...(byIndex.get(index) ?? []), deadLetterIndexMember(entry.id)]);
  }
  await Promise.all([...byIndex].map(([index, members]) => redis.zrem(index, ...members).catch(() => 0)));
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
