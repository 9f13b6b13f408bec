import { inflateRawSync } from 'node:zlib';

/**
 * One decision on the tape: the input entry as the gate received it, every reply its ctx and its
 * batch state's load were given (in the order they came), every clock reading, and what committed.
 */
/**
 * The version of the records this code writes. 2: an entry holds the records of several commits,
 * and a call a record repeats from the record before it in its entry is written as that call's
 * place (encodeTapeEntry). 3: a `cachedReads` call's reads are written in runs of one command and
 * its arguments (compactReads). Decoded, a record of any version is the same TapeRecord.
 */
export const TAPE_VERSION = 3;
/** The versions this code reads (decodeTapeEntry); a rehearsal names a record of another as such. */
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
type EntryCall = TapedCall | number;
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

/** `reads` with each call equal to the call at the same place of `before` written as that place. */
function withRepeats(reads: TapedReads, before: TapedReads | undefined): TapedReads | EntryReads {
  if (before === undefined) return reads;
  let calls: EntryCall[] | undefined;
  for (let i = 0; i < reads.calls.length; i++) {
    const call = reads.calls[i]!;
    const earlier = before.calls[i];
    if (earlier !== undefined && sameJson(call, earlier)) (calls ??= reads.calls.slice(0, i)).push(i);
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

const isCachedReads = (call: EntryCall): call is TapedCall => typeof call !== 'number' && call[0] === 'cachedReads' && call[1].length === 2;

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

/** An entry's records as its JSON holds them (version 2: repeated calls as their places; version 3: the book's reads in runs). */
export function entryAsWritten(records: readonly TapeRecord[]): readonly object[] {
  let state: TapedReads | undefined;
  let reads: TapedReads | undefined;
  return records.map((record) => {
    const ownState = withCompactReads(record.state === undefined ? undefined : withRepeats(record.state, state));
    const ownReads = withCompactReads(withRepeats(record.reads, reads));
    state = record.state ?? state;
    reads = record.reads;
    return ownState === record.state && ownReads === record.reads ? record : { ...record, state: ownState, reads: ownReads };
  });
}

/** The JSON of an entry's records (entryAsWritten; decodeTapeEntry reads it back). */
export function encodeTapeEntry(records: readonly TapeRecord[]): string {
  return JSON.stringify(entryAsWritten(records));
}

/** How many reads and effects an entry's records hold: what its JSON's size follows. */
export function entryParts(records: readonly TapeRecord[]): number {
  let parts = 0;
  for (const record of records)
    parts += record.reads.calls.length + (record.state?.calls.length ?? 0) + record.effects.length + record.jobs.length;
  return parts;
}

/** An entry's list with each place (a repeated call) replaced by the call it names. */
function resolved(reads: EntryReads, before: TapedReads | undefined): TapedReads {
  if (!reads.calls.some((call) => typeof call === 'number')) return reads as TapedReads;
  const calls = reads.calls.map((call) => {
    if (typeof call !== 'number') return call;
    const earlier = before?.calls[call];
    if (earlier === undefined) throw new Error(`a tape entry repeating call ${call} of a record that has none`);
    return earlier;
  });
  return { calls, clock: [...reads.clock] };
}

/** The records of a tape entry read with XRANGE's binary form (ioredis xrangeBuffer), of version 1, 2 or 3. */
export function decodeTapeEntry(fields: readonly Buffer[]): TapeRecord[] {
  const at = fields.findIndex((f) => f.toString() === RECORD_FIELD);
  if (at < 0 || at % 2 === 1) throw new Error('a tape entry without its records');
  const records = JSON.parse(inflateRawSync(fields[at + 1]!).toString('utf8')) as TapeRecord[];
  let state: TapedReads | undefined;
  let reads: TapedReads | undefined;
  return records.map((record) => {
    const ownState = record.state === undefined ? undefined : resolved(withExpandedReads(record.state), state);
    const ownReads = resolved(withExpandedReads(record.reads), reads);
    state = ownState ?? state;
    reads = ownReads;
    return ownState === record.state && ownReads === record.reads ? record : { ...record, state: ownState, reads: ownReads };
  });
}
