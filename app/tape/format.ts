import { createHash } from 'node:crypto';

/**
 * One decision on the tape: the input entry as the gate received it, every reply its ctx and its
 * batch state's load were given (in the order they came), every clock reading, and what committed.
 */
export interface TapeRecord {
  readonly v: 1;
  readonly gate: string;
  /** The stream id or job id. */
  readonly id: string;
  readonly producedAt: number;
  readonly raw: Readonly<Record<string, string>>;
  /** 'handled', 'fallback', 'unusable' or 'dead-letter:<reason>'. */
  readonly outcome: string;
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
]);

/** A read's identity on the tape: a script is named by its digest, not carried whole in every record. */
export function readArgs(method: string, args: readonly unknown[]): unknown[] {
  if (method !== 'eval_ro' || typeof args[0] !== 'string') return [...args];
  return [`sha1:${createHash('sha1').update(args[0]).digest('hex')}`, ...args.slice(1)];
}

export function readIdentity(method: string, args: readonly unknown[]): string {
  return JSON.stringify([method, args.map((a) => (typeof a === 'number' ? String(a) : a))]);
}
