import { inflateRawSync } from 'node:zlib';

/**
 * One decision on the tape: the input entry as the gate received it, every reply its ctx and its
 * batch state's load were given (in the order they came), every clock reading, and what committed.
 */
/**
 * The version of the records this code writes. 2: an entry holds the records of several commits,
 * and a call a record repeats from the record before it in its entry is written as that call's
 * place (encodeTapeEntry). 3: a `cachedReads` call's reads are written in runs of one command and
 * its arguments (compactReads). Decoded, a record of any version is the same TapeRecord, so a
 * change of how an entry is written that decodes to the same records keeps the version: since
 * 1.12.0 an entry is an object naming its writer and continuing that writer's previous entry
 * (EntryHead), and a `cachedReads` call of the reads before it is written as the replies that
 * changed (ReplyPatch); the reader tells the two by their JSON (an array is an entry of before).
 */
export const TAPE_VERSION = 3;
/** The versions this code reads; a rehearsal names a record of another as such. */
export const READ_TAPE_VERSIONS: ReadonlySet<number> = new Set([1, 2, TAPE_VERSION]);

export interface TapeRecord {
  /** Every record says its version (TAPE_VERSION when written by this code). */
  readonly v: 1 | 2 | typeof TAPE_VERSION;
  readonly gate: string;
  /** The stream id or job id. */
  readonly id: string;
  readonly producedAt: number;
  readonly raw: Readonly<Record<string, string>>;
  /** What the schema validated, when not `raw` (a job's data). */
  readonly data?: unknown;
  /** 'handled', 'fallback', 'unusable' or 'dead-letter:<reason>'. */
  readonly outcome: string;
  /** The digest of the gate's settings it was decided with (settingsKey(gate)'s field; app/tape/settings.ts). */
  readonly settings?: string;
  /** The batch it was decided in (messages of one batch share, and may build on, one batch state). */
  readonly batch?: string | undefined;
  /** Its batch state's reads, when they grew since the batch's last record (the batch's last record holding them holds them all). */
  readonly state?: TapedReads | undefined;
  readonly reads: TapedReads;
  /** The runtime's effect records, as JSON carries them (without their onFail hooks). */
  readonly effects: readonly unknown[];
  readonly jobs: readonly unknown[];
}

export interface TapedReads {
  readonly calls: TapedCall[];
  readonly clock: number[];
}

/** A read: method, arguments (a script as its digest), reply or the error it rejected with. */
export type TapedCall = [method: string, args: readonly unknown[], reply: unknown, failed?: 1];

/** Where a gate's tape is kept: one stream per gate, trimmed to TAPE_MAXLEN entries. */
export function tapeKey(gate: string): string {
  return `quantum:gates:tape:${gate}`;
}

/** The ctx reads a tape answers (RedisReader's methods). */
export const READ_METHODS: ReadonlySet<string> = new Set([
  'get',
  'exists',
  'hget',
  'hgetall',
  'hmget',
  'smembers',
  'sismember',
  'zcount',
  'zrangebyscore',
  'lrange',
  'type',
  'xrevrange',
  'xinfo',
  'xpending',
  'scan',
  'info',
  // The key watch's answer (runtime/host/key-watch.ts): a rehearsal reads the book as the decision did.
  'keysToRead',
  'cachedReads',
]);

/**
 * cachedReads answers a key's refusal as an Error in its place, which JSON cannot carry: taped as
 * `{ [REFUSED]: message }` (tapedReply) and answered as that Error again (answeredReply). REFUSED
 * starts with a NUL, so no hash field a producer writes (HGETALL's reply is an object too) reads as one.
 */
const REFUSED = '\u0000refused';

export function tapedReply(method: string, reply: unknown): unknown {
  if (method !== 'cachedReads' || !Array.isArray(reply) || !reply.some((one) => one instanceof Error)) return reply;
  return reply.map((one: unknown) => (one instanceof Error ? { [REFUSED]: one.message } : one));
}

export function answeredReply(method: string, reply: unknown): unknown {
  if (method !== 'cachedReads' || !Array.isArray(reply)) return reply;
  return reply.map((one: unknown) => {
    const refused = typeof one === 'object' && one !== null ? (one as Record<string, unknown>)[REFUSED] : undefined;
    return typeof refused === 'string' ? new Error(refused) : one;
  });
}

export function readIdentity(method: string, args: readonly unknown[]): string {
  return JSON.stringify([method, args.map((a) => (typeof a === 'number' ? String(a) : a))]);
}

/** A tape entry's fields as Redis keeps them: `z`, the JSON array of its commits' records (encodeTapeEntry), deflated (raw DEFLATE). */
export const RECORD_FIELD = 'z';

/**
 * A call of a record as an entry holds it: the call, or (version 2) the place of the same call
 * (method, arguments, reply, refusal) in the same list (`state` or `reads`) of the entry's record
 * before it that has the list. The governor reads its whole book for every plan; repeated, it is
 * one number, neither serialised again nor deflated again.
 */
type EntryCall = TapedCall | number | ReplyPatch;

/**
 * A `cachedReads` call (since 1.12.0) of the same reads as the call at its place in the record before,
 * written as the replies that differ, each `[place, reply]`. At 1,000 held the governor's book is
 * ~7,000 replies a decision, of which the producers rewrote ~80 since the one before: written whole,
 * the tape was a quarter of the gates' CPU at 10 plans a second (docs/performance.md "Held positions").
 */
type ReplyPatch = { readonly d: readonly (readonly [place: number, reply: unknown])[] };
const isPatch = (call: EntryCall): call is ReplyPatch => typeof call === 'object' && !Array.isArray(call);
type EntryReads = { readonly calls: readonly EntryCall[]; readonly clock: readonly number[] };

/** Whether two replies as JSON carries them are the same (replies are strings, numbers, null, arrays and objects of them). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const names = Object.keys(x);
  if (names.length !== Object.keys(y).length) return false;
  for (const name of names) if (!Object.hasOwn(y, name) || !sameJson(x[name], y[name])) return false;
  return true;
}

/**
 * `call` as the replies that differ from `earlier`'s, when both are `cachedReads` of the same reads
 * answered (not refused) and fewer than half differ; else undefined. The key watch answers a key
 * not written since with the same reply object, so most places compare by identity.
 */
function patchOf(call: TapedCall, earlier: TapedCall): ReplyPatch | undefined {
  if (call[0] !== 'cachedReads' || earlier[0] !== 'cachedReads' || call[3] === 1 || earlier[3] === 1) return undefined;
  const [replies, before] = [call[2], earlier[2]];
  if (!Array.isArray(replies) || !Array.isArray(before) || replies.length !== before.length || !sameJson(call[1], earlier[1]))
    return undefined;
  const d: [number, unknown][] = [];
  for (let k = 0; k < replies.length; k++) {
    if (sameJson(replies[k], before[k])) continue;
    if (2 * d.push([k, replies[k]]) > replies.length) return undefined;
  }
  return { d };
}

/**
 * `reads` with each call equal to the call at the same place of `before` written as that place,
 * and each `cachedReads` call of the same reads as it written as a ReplyPatch.
 */
function withRepeats(reads: TapedReads, before: TapedReads | undefined): TapedReads | EntryReads {
  if (before === undefined) return reads;
  let calls: EntryCall[] | undefined;
  for (let i = 0; i < reads.calls.length; i++) {
    const call = reads.calls[i]!;
    const earlier = before.calls[i];
    const patch = earlier === undefined ? undefined : sameJson(call, earlier) ? i : patchOf(call, earlier);
    if (patch !== undefined) (calls ??= reads.calls.slice(0, i)).push(patch);
    else calls?.push(call);
  }
  return calls === undefined ? reads : { calls, clock: reads.clock };
}

/**
 * A `cachedReads` call's reads as version 3 writes them: runs of consecutive reads of one command
 * with the same arguments after the key, each run `[command, [key, …], ...arguments]`. The book's
 * call at 1,000 held is ~7,000 reads, each its command, key and up to seven field names: written
 * whole they were three quarters of a decision's record.
 */
type ReadRun = [command: string, keys: string[], ...args: string[]];
type CompactReads = { readonly runs: readonly ReadRun[] };

function sameTail(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length || a[0] !== b[0]) return false;
  for (let i = 2; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function compactReads(reads: readonly (readonly string[])[]): CompactReads {
  const runs: ReadRun[] = [];
  let first: readonly string[] | undefined;
  for (const read of reads) {
    if (first !== undefined && sameTail(first, read)) runs.at(-1)![1].push(read[1]!);
    else {
      first = read;
      runs.push([read[0]!, [read[1]!], ...read.slice(2)]);
    }
  }
  return { runs };
}

function expandReads({ runs }: CompactReads): string[][] {
  return runs.flatMap(([command, keys, ...args]) => keys.map((key) => [command, key, ...args]));
}

const isCachedReads = (call: EntryCall): call is TapedCall => Array.isArray(call) && call[0] === 'cachedReads' && call[1].length === 2;

/** `list` with each `cachedReads` call whose reads `holds` replaced by `rewrite(reads)`; the same list when none does. */
function withCachedReads<List extends TapedReads | EntryReads>(
  list: List,
  holds: (reads: unknown) => boolean,
  rewrite: (reads: never) => unknown,
): List {
  const rewritten = (call: EntryCall) => isCachedReads(call) && holds(call[1][1]);
  if (!list.calls.some(rewritten)) return list;
  const calls = list.calls.map((call): EntryCall => {
    if (!rewritten(call)) return call;
    const [method, [name, reads], ...rest] = call as TapedCall;
    return [method, [name, rewrite(reads as never)], ...rest] as TapedCall;
  });
  return { calls, clock: list.clock } as List;
}

/** A list's `cachedReads` calls with their reads in runs (compactReads). */
const withCompactReads = (list: TapedReads | EntryReads | undefined) =>
  list === undefined ? undefined : withCachedReads(list, Array.isArray, compactReads);

/** A list's `cachedReads` calls read back whole; a call written whole (version 2) is left as it is. */
const withExpandedReads = (list: EntryReads) =>
  withCachedReads(list, (reads) => typeof reads === 'object' && reads !== null && !Array.isArray(reads), expandReads);

/**
 * Who wrote an entry (since 1.12.0), and whether it continues that writer's previous entry: its first
 * record's repeats and patches are of that entry's last record (and last state), whose sequence
 * number is `seq - 1`. An entry that does not continue (a key entry) decodes alone; a writer writes
 * one at its start, after a write it could not make, and at least every KEY_ENTRY_EVERY.
 */
export interface EntryHead {
  readonly writer: string;
  /** The writer's sequence number of the entry's first record (one a record, from 0). */
  readonly seq: number;
  readonly continues: boolean;
}

/** What an entry continues from: its writer's last record's reads, and the last state its records held. */
export interface TapeBase {
  readonly reads: TapedReads | undefined;
  readonly state: TapedReads | undefined;
}

/**
 * A writer's key entry at least this often: a reader that starts within the tape (a rehearsal
 * `--since`) reads from `ms` (twice over, for the writes' delays) before its start to find one,
 * and the oldest entries a trim left without theirs are at most `records` decisions.
 */
export const KEY_ENTRY_EVERY = { records: 1_000, ms: 60_000 } as const;

/** An entry as written since 1.12.0, as its JSON holds it (before: the array of its records alone). */
interface WrittenEntry {
  readonly w: string;
  readonly s: number;
  /** 1: continues the writer's previous entry. */
  readonly c?: 1;
  readonly r: readonly object[];
}

/** An entry as its JSON holds it: its head, and its records (version 2: repeated calls as their places; 3: the book's reads in runs; patches). */
export function entryAsWritten(records: readonly TapeRecord[], head: EntryHead = KEY_HEAD, base?: TapeBase): WrittenEntry {
  let state = head.continues ? base?.state : undefined;
  let reads = head.continues ? base?.reads : undefined;
  const r = records.map((record) => {
    const ownState = withCompactReads(record.state === undefined ? undefined : withRepeats(record.state, state));
    const ownReads = withCompactReads(withRepeats(record.reads, reads));
    state = record.state ?? state;
    reads = record.reads;
    return ownState === record.state && ownReads === record.reads ? record : { ...record, state: ownState, reads: ownReads };
  });
  return { w: head.writer, s: head.seq, ...(head.continues ? { c: 1 as const } : {}), r };
}

const KEY_HEAD: EntryHead = { writer: '', seq: 0, continues: false };

/** The JSON of an entry's records (entryAsWritten; TapeDecoder reads it back). */
export function encodeTapeEntry(records: readonly TapeRecord[], head?: EntryHead, base?: TapeBase): string {
  return JSON.stringify(entryAsWritten(records, head, base));
}

/** The base an entry's records leave for the writer's next entry. */
export function baseAfter(records: readonly TapeRecord[], base: TapeBase | undefined): TapeBase {
  let state = base?.state;
  for (const record of records) state = record.state ?? state;
  return { reads: records.at(-1)?.reads ?? base?.reads, state };
}

/** How many reads and effects an entry's records hold: what its JSON's size follows. */
export function entryParts(records: readonly TapeRecord[]): number {
  let parts = 0;
  for (const record of records)
    parts += record.reads.calls.length + (record.state?.calls.length ?? 0) + record.effects.length + record.jobs.length;
  return parts;
}

/** An entry's list with each place (a repeated call) and patch replaced by the call it stands for. */
function resolved(reads: EntryReads, before: TapedReads | undefined): TapedReads {
  if (reads.calls.every((call) => Array.isArray(call))) return reads as TapedReads;
  const calls = reads.calls.map((call, i): TapedCall => {
    if (Array.isArray(call)) return call as TapedCall;
    const at = isPatch(call) ? i : (call as number);
    const earlier = before?.calls[at];
    if (earlier === undefined) throw new Error(`a tape entry repeating call ${at} of a record that has none`);
    if (!isPatch(call)) return earlier;
    const replies = [...(earlier[2] as unknown[])];
    for (const [k, reply] of call.d) replies[k] = reply;
    return [earlier[0], earlier[1], replies];
  });
  return { calls, clock: [...reads.clock] };
}

/** An entry whose writer's previous entry was not read: trimmed off the tape, or before where reading began. */
export class EntryWithoutBase extends Error {}
/** An entry continuing one that is not on the tape, or continuing such an entry: its writer counted it as not taped. */
export class EntryAfterGap extends Error {}

/**
 * Reads a gate's tape entries (XRANGE's binary form: ioredis xrangeBuffer), in the stream's order:
 * an entry that continues its writer's previous entry decodes against that entry's last record,
 * kept here per writer (replicas write one gate's tape side by side).
 */
export class TapeDecoder {
  /** Per writer, its next record's number and what it continues from; `broken` after an entry of it that did not decode. */
  private readonly writers = new Map<string, { next: number; base: TapeBase } | 'broken'>();

  /**
   * The entry's records (none for an entry read already: an append sent twice). Throws
   * EntryWithoutBase for an entry continuing a writer not read here yet (the head of a trimmed tape,
   * or a read begun inside it: not a fault), EntryAfterGap for one continuing another record than
   * its writer's last (a write the writer could not make, and counted) and each entry continuing it
   * until the writer's next key entry, and an Error for one that does not decode.
   */
  decode(fields: readonly Buffer[]): TapeRecord[] {
    const at = fields.findIndex((f) => f.toString() === RECORD_FIELD);
    if (at < 0 || at % 2 === 1) throw new Error('a tape entry without its records');
    const body = JSON.parse(inflateRawSync(fields[at + 1]!).toString('utf8')) as TapeRecord[] | WrittenEntry;
    if (Array.isArray(body)) return decodeRecords(body, undefined);
    const known = this.writers.get(body.w);
    // An append sent again after its reply was lost (ioredis resends what a dropped connection left unanswered): read once.
    if (typeof known === 'object' && body.s < known.next) return [];
    this.writers.set(body.w, 'broken');
    let base: TapeBase | undefined;
    if (body.c === 1) {
      if (known === undefined) {
        this.writers.delete(body.w);
        throw new EntryWithoutBase(`continues writer ${body.w}'s entry before it, not read`);
      }
      if (known === 'broken') throw new EntryAfterGap(`continues writer ${body.w}'s entry that did not decode`);
      if (known.next !== body.s)
        throw new EntryAfterGap(`continues writer ${body.w}'s record ${body.s - 1}, but its last on the tape is ${known.next - 1}`);
      base = known.base;
    }
    const records = decodeRecords(body.r as TapeRecord[], base);
    this.writers.set(body.w, { next: body.s + records.length, base: baseAfter(records, base) });
    return records;
  }
}

function decodeRecords(written: readonly TapeRecord[], base: TapeBase | undefined): TapeRecord[] {
  let state = base?.state;
  let reads = base?.reads;
  return written.map((record) => {
    const ownState = record.state === undefined ? undefined : resolved(withExpandedReads(record.state), state);
    const ownReads = resolved(withExpandedReads(record.reads), reads);
    state = ownState ?? state;
    reads = ownReads;
    return ownState === record.state && ownReads === record.reads ? record : { ...record, state: ownState, reads: ownReads };
  });
}

/** The records of one tape entry that decodes alone (any but one continuing its writer's entry before: TapeDecoder reads those). */
export function decodeTapeEntry(fields: readonly Buffer[]): TapeRecord[] {
  return new TapeDecoder().decode(fields);
}

/**
 * Every record of a run of entries in the stream's order (XRANGE's binary form), leaving out the
 * entries a trim left without their base and those after a gap (their writer counted them as not
 * taped); an entry that does not decode otherwise throws.
 */
export function decodeTapeEntries(entries: readonly (readonly [id: Buffer, fields: readonly Buffer[]])[]): TapeRecord[] {
  const decoder = new TapeDecoder();
  return entries.flatMap(([, fields]) => {
    try {
      return decoder.decode(fields);
    } catch (error) {
      if (error instanceof EntryWithoutBase || error instanceof EntryAfterGap) return [];
      throw error;
    }
  });
}
