/**
 * Whom a Redis error concerns, the one rule the runtime and the gates judge by. Redis's state passes
 * (held, uncharged, tried again): no answer (connection, timeout), writes refused (oom, readonly,
 * misconf, noreplicas), the account refused (noperm, auth), Redis not serving (unavailable, busy).
 * A key of another type, a script's or a module's own error, or an unknown reply stays until a
 * person changes something. A module wording Redis's state as Redis does is classed by those words.
 */
const STATE_CAUSES = [
  'connection',
  'timeout',
  'oom',
  'readonly',
  'misconf',
  'noperm',
  'auth',
  'noreplicas',
  'unavailable',
  'busy',
] as const;
export const REDIS_STATE_CAUSES: readonly RedisFailureCause[] = STATE_CAUSES;
/** The label of quantum_gates_commit_failures_total: a state cause, or the message's (a key of another type, its group gone, a script's error). */
export type RedisFailureCause = (typeof STATE_CAUSES)[number] | 'wrongtype' | 'nogroup' | 'script' | 'other';

/** The client's words for a command Redis never answered (ioredis's AbortError among them): outcome unknown, no key's. */
const CONNECTION_LOST =
  /CONNECTION (IS )?CLOSE|COMMAND ABORTED|CONNECTION IS (ABORTED|DISCARDED)|STREAM ISN'T WRITEABLE|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|MAXRETRIESPERREQUEST|CONNECTION LOST|OFFLINE QUEUE|NONE OF STARTUP NODES|CLUSTER IS (DISCONNECT|ENDED)|CLUSTER ISN'T READY|NODE IS DISCONNECTED|NO MASTER NODE|ALL SENTINELS ARE UNREACHABLE/;

/** An ACL refusal, of a command (NOPERM) or a script's call (Redis 7.2+ and 7.0's words). */
const ACL_REFUSED = /\bNOPERM\b|ACL FAILURE IN SCRIPT|USER EXECUTING THE SCRIPT CAN'T/;

/** Redis cannot serve anyone for now: a replica without its master, a slot moving, a cluster down, every client slot taken, a shutdown under way. */
const UNAVAILABLE = /\bMASTERDOWN\b|\bTRYAGAIN\b|\bCLUSTERDOWN\b|MAX NUMBER OF CLIENTS REACHED|SHUTTING DOWN|\bSHUTDOWN IN PROGRESS/;

export function redisFailureCause(error: unknown): RedisFailureCause {
  // EXECABORT carries the reason its queued command was refused ("...previous errors: OOM ...").
  const text = (error instanceof Error ? error.message : String(error)).toUpperCase();
  if (text.includes('COMMAND TIMED OUT') || text.includes('SOCKET TIMEOUT')) return 'timeout';
  if (/\bOOM\b/.test(text)) return 'oom';
  if (/\bREADONLY\b/.test(text)) return 'readonly';
  if (/\bMISCONF\b/.test(text)) return 'misconf';
  if (/\bNOREPLICAS\b/.test(text)) return 'noreplicas';
  if (ACL_REFUSED.test(text)) return 'noperm';
  if (/\bNOAUTH\b|\bWRONGPASS\b/.test(text)) return 'auth';
  if (UNAVAILABLE.test(text)) return 'unavailable';
  if (/\bNOGROUP\b/.test(text)) return 'nogroup';
  if (/\bWRONGTYPE\b/.test(text)) return 'wrongtype';
  if (/\bBUSY\b|\bLOADING\b/.test(text)) return 'busy';
  if (CONNECTION_LOST.test(text)) return 'connection';
  if (/ERR .*SCRIPT|USER_SCRIPT|@USER_FUNCTION|ERR ERROR RUNNING SCRIPT/.test(text)) return 'script';
  return 'other';
}

/** Redis's state, not the key's: no answer about the key; let it fail the message, which the runtime holds. */
export function isRedisStateRefusal(error: unknown): boolean {
  return REDIS_STATE_CAUSES.includes(redisFailureCause(error));
}
