import { createHash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';

/**
 * One decision on the tape: the input entry as the gate received it, every reply its ctx and its
 * batch state's load were given (in the order they came), every clock reading, and what committed.
 */
/** The version of the records this code writes and reads; a rehearsal names a record of another as such. */
export const TAPE_VERSION = 1;

export interface TapeRecord {
  /** Every record says its version (TAPE_VERSION when written by this code). */
  readonly v: typeof TAPE_VERSION;
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
  'zcount',
  'zrangebyscore',
  'lrange',
  'type',
  'xrevrange',
  'xinfo',
  'xpending',
  'scan',
  'eval_ro',
  'info',
]);

const digests = new Map<string, string>();
function digestOf(script: string): string {
  let digest = digests.get(script);
  if (digest === undefined) {
    digest = `sha1:${createHash('sha1').update(script).digest('hex')}`;
    digests.set(script, digest);
  }
  return digest;
}

/** A read's identity on the tape: a script is named by its digest, not carried whole in every record. */
export function readArgs(method: string, args: readonly unknown[]): unknown[] {
  if (method !== 'eval_ro' || typeof args[0] !== 'string') return [...args];
  return [digestOf(args[0]), ...args.slice(1)];
}

export function readIdentity(method: string, args: readonly unknown[]): string {
  return JSON.stringify([method, args.map((a) => (typeof a === 'number' ? String(a) : a))]);
}

/** A tape entry's fields as Redis keeps them: `z`, the JSON array of a commit's records, deflated (raw DEFLATE). */
export const RECORD_FIELD = 'z';

/** The records of a tape entry (one commit's) read with XRANGE's binary form (ioredis xrangeBuffer). */
export function decodeTapeEntry(fields: readonly Buffer[]): TapeRecord[] {
  const at = fields.findIndex((f) => f.toString() === RECORD_FIELD);
  if (at < 0 || at % 2 === 1) throw new Error('a tape entry without its records');
  return JSON.parse(inflateRawSync(fields[at + 1]!).toString('utf8')) as TapeRecord[];
}
