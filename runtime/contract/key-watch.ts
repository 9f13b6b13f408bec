import type { ReadCommand } from './redis-reader.js';

/**
 * Keys other services write whose every write a gate must see before its next decision: the runtime
 * follows their keyspace events, keeps the keys a decision must read (RedisReader.keysToRead) and
 * the replies of reads until their key is written (cachedReads; docs/architecture.md "Consistency").
 */
export interface KeyWatchDeclaration {
  /** One watch per name in a process, however many gates declare it (they must declare the same). */
  readonly name: string;
  /** Key prefixes whose writes are watched. */
  readonly prefixes: readonly string[];
  /** More prefixes, not judged, whose replies cachedReads keeps too. */
  readonly cached?: readonly string[];
  /** The read of one changed key (one command on the commands connection). */
  read(key: string): ReadCommand;
  /** The reply (an Error: refused) at `now`: `read` by every decision, `skip` (sound, not needed), or `absent` (kept as it was, read as missing). */
  judge(key: string, reply: unknown, now: number): 'read' | 'skip' | 'absent';
}

/** Identity, for a declaration's types. */
export const defineKeyWatch = (declaration: KeyWatchDeclaration): KeyWatchDeclaration => declaration;
