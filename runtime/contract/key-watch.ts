import type { ReadCommand } from './redis-reader.js';

/**
 * Keys other services write whose every write a gate must see before its next decision (the
 * Position Ledger's hashes): the runtime subscribes to their keyspace events, reads each key a
 * write touched (and, after each subscribe, every key under the prefixes, found by SCAN), and keeps
 * in this process the keys whose content must be read by a decision (`judge`: anything but a sound
 * "nothing here"). RedisReader.keysToRead answers them after a
 * barrier, or null while the subscription is not known to be live (then the gate reads every key
 * it can list). docs/architecture.md "Consistency" holds the argument.
 */
export interface KeyWatchDeclaration {
  /** One watch per name in a process, however many gates declare it (they must declare the same). */
  readonly name: string;
  /** Key prefixes whose writes are watched. */
  readonly prefixes: readonly string[];
  /** The read of one changed key (one command on the commands connection). */
  read(key: string): ReadCommand;
  /**
   * The read's reply (an Error where Redis refused the key) judged at `now`: `read` (the key must be
   * read by every decision), `skip` (a sound figure no decision needs), or `absent` (the key holds
   * nothing: it keeps what it was, so a held key deleted or expired is still read, as missing).
   */
  judge(key: string, reply: unknown, now: number): 'read' | 'skip' | 'absent';
}

/** Identity, for a declaration's types. */
export const defineKeyWatch = (declaration: KeyWatchDeclaration): KeyWatchDeclaration => declaration;
