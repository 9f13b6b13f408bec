import type { Redis } from 'ioredis';
import { keys } from '../schemas/keys.js';

/**
 * Redis's own time for the position book's read (bench/run.ts, section `universe`). The book is
 * read by a read-only script (handlers/positions/book.ts: EVAL_RO, or EVALSHA_RO by its sha), the
 * only one the gates send with those commands; INFO commandstats counts each command's calls and
 * the microseconds Redis spent in them. `sampleReadOnlyScripts` checks, from SLOWLOG, that every
 * read-only script call of a sample is the book's, so the figure is the book's alone.
 */
const READ_ONLY_SCRIPTS = ['eval_ro', 'evalsha_ro'];
/** Where the book's listings live (keys.activePositions, keys.p33PositionIndex). */
const BOOK_KEYS = keys.activePositions.slice(0, keys.activePositions.lastIndexOf(':') + 1);

export interface ScriptCounters {
  readonly calls: number;
  readonly usec: number;
}

export async function readOnlyScriptCounters(redis: Redis): Promise<ScriptCounters> {
  const info = (await redis.call('INFO', 'commandstats')) as string;
  let [calls, usec] = [0, 0];
  for (const name of READ_ONLY_SCRIPTS) {
    const match = new RegExp(`^cmdstat_${name}:calls=(\\d+),usec=(\\d+)`, 'm').exec(info);
    calls += Number(match?.[1] ?? 0);
    usec += Number(match?.[2] ?? 0);
  }
  return { calls, usec };
}

/** Microseconds of Redis's time per call between two readings. */
export function usecPerCall(before: ScriptCounters, after: ScriptCounters): { calls: number; usecPerCall: number } {
  const calls = after.calls - before.calls;
  return { calls, usecPerCall: calls > 0 ? (after.usec - before.usec) / calls : NaN };
}

/**
 * Logs every command (SLOWLOG at 0 µs) until the returned function is called, which restores the
 * server's settings and counts the read-only script calls logged meanwhile and those of them that
 * name one of the book's own keys (its listings: quantum:gates:positions:active_symbols, the P3.3
 * index quantum:gates:positions:p33_symbols, any index of the book kept beside them).
 * Run it outside the measured window: logging every command costs Redis a little.
 */
export async function sampleReadOnlyScripts(redis: Redis): Promise<() => Promise<{ scripts: number; book: number }>> {
  const setting = async (name: string) => ((await redis.call('CONFIG', 'GET', name)) as string[])[1]!;
  const [slower, length] = [await setting('slowlog-log-slower-than'), await setting('slowlog-max-len')];
  await redis.call('CONFIG', 'SET', 'slowlog-max-len', '100000');
  await redis.call('SLOWLOG', 'RESET');
  await redis.call('CONFIG', 'SET', 'slowlog-log-slower-than', '0');
  return async () => {
    const replies = await redis
      .multi()
      .call('CONFIG', 'SET', 'slowlog-log-slower-than', slower)
      .call('SLOWLOG', 'GET', '100000')
      .call('SLOWLOG', 'RESET')
      .call('CONFIG', 'SET', 'slowlog-max-len', length)
      .exec();
    // Each entry: id, time, duration, the command's arguments (each cut at 128 bytes), client address, client name.
    const entries = (replies?.[1]?.[1] ?? []) as [number, number, number, string[], ...unknown[]][];
    const scripts = entries.map((e) => e[3]).filter((args) => READ_ONLY_SCRIPTS.includes(String(args[0]).toLowerCase()));
    const book = scripts.filter((args) => args.some((arg) => String(arg).startsWith(BOOK_KEYS)));
    return { scripts: scripts.length, book: book.length };
  };
}
