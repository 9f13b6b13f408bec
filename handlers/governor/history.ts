import type { RedisReader } from '../../runtime/contract/index.js';
import { keys } from '../../schemas/keys.js';
import { parseNumber } from './numbers.js';
import { refusedKey, replyOf, type ReadCommand } from '../positions/read-commands.js';

/** The original's list: LPUSH str(time.time()), LTRIM 0 99, EXPIRE 86400 (8f5055c52 _issue_permit). */
export const EXEC_HISTORY_LENGTH = 100;
export const EXEC_HISTORY_TTL_SEC = 86_400;
/** last_exec:{symbol}: setex(…, 3600, str(time.time())). */
export const LAST_EXEC_TTL_SEC = 3600;
/** daily:{symbol}:{date}: setex(…, 86400, str(new_total)). */
export const DAILY_TTL_SEC = 86_400;

/**
 * quantum:governor:exec:{symbol} as found: the original's list of epoch seconds (its format, and
 * ours), a sorted set an earlier quantum-gates wrote (score = ms), or anything else, which is
 * ignored. Never fatal: an item that is not a number is skipped.
 */
export interface ExecHistory {
  /** The key's type when read: 'list', 'none', or a leftover type the next permit replaces. */
  readonly type: string;
  /** Execution times in epoch seconds, newest first. */
  readonly times: readonly number[];
}

/**
 * One LRANGE on every plan, the common case (the original's list, or no key: an empty list does not
 * exist in Redis); only a leftover of another type costs a TYPE and a second read (execHistoryFrom
 * reads its reply). For a reader that sends several reads as one.
 */
export const execHistoryRead = (symbol: string): ReadCommand => ['LRANGE', keys.governorExecutions(symbol), '0', '-1'];

/** The history, from execHistoryRead's reply (its error in its place): a list at once, else the leftover's type read. */
export function execHistoryFrom(redis: RedisReader, symbol: string, reply: unknown): ExecHistory | Promise<ExecHistory> {
  if (!refusedKey(reply)) {
    const items = replyOf<string[]>(reply);
    return { type: items.length > 0 ? 'list' : 'none', times: numbers(items) };
  }
  return readOtherHistory(redis, keys.governorExecutions(symbol));
}

/** A history key of another type than a list: a leftover sorted set is read, anything else is empty. */
async function readOtherHistory(redis: RedisReader, key: string): Promise<ExecHistory> {
  const type = await redis.type(key);
  if (type === 'zset') {
    const flat = await redis.zrangebyscore(key, '-inf', '+inf', 'WITHSCORES');
    const times: number[] = [];
    for (let i = 1; i < flat.length; i += 2) {
      const ms = parseNumber(flat[i]);
      if (ms !== undefined) times.push(ms / 1000);
    }
    return { type, times: times.sort((a, b) => b - a).slice(0, EXEC_HISTORY_LENGTH) };
  }
  return { type, times: [] };
}

function numbers(items: readonly string[]): number[] {
  const out: number[] = [];
  for (const item of items) {
    const n = parseNumber(item);
    if (n !== undefined) out.push(n);
  }
  return out;
}

/** Executions after now − window (`ts > cutoff`, as _get_exec_count_window). */
export function countSince(history: ExecHistory, nowMs: number, windowSec: number): number {
  const cutoff = nowMs / 1000 - windowSec;
  // Counted, not filtered into a new array: three counts a plan over up to the whole history. By
  // index: the profile found the for-of form allocating (~1.3 KB a plan) in the compiled build.
  const times = history.times;
  let count = 0;
  for (let i = 0; i < times.length; i++) if (times[i]! > cutoff) count += 1;
  return count;
}

/**
 * A string key holding str(time.time()) or str(total): its number; undefined when absent, not a
 * number, or a key of another type (WRONGTYPE), which the next write replaces (SET).
 */
export async function readNumberKey(redis: RedisReader, key: string): Promise<number | undefined> {
  return numberKeyFrom(await redis.get(key).catch(asReply));
}

/** What readNumberKey answers, from the reply of a GET of the key (its error in its place). */
export function numberKeyFrom(reply: unknown): number | undefined {
  return refusedKey(reply) ? undefined : parseNumber(replyOf<string | null>(reply));
}

/** A read alone's refusal as the reply a composite read holds in its place (replyOf throws it again). */
const asReply = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** The UTC date the original keys daily records by (datetime.utcnow().strftime('%Y-%m-%d')). */
export function utcDate(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 10);
}
