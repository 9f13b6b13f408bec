/**
 * What a Redis error says about whom it concerns: the one rule the runtime (retries, failure
 * policies, /ready) and the gates (a read refused per key) both judge by. Redis's state (an ACL,
 * credentials, a failover, a load, a resharding, too few replicas, too many clients, a shutdown,
 * memory, a failed save, a busy script, no answer) passes; the message and its keys are not at
 * fault, so whoever meets it holds the message and tries again. A key of another type, a script's
 * own error or an unknown reply stays until a person changes something.
 *
 * A module's error (a command a module adds, or one a module's command filter answers) is the
 * message's (`other`): it is the module's judgement of the command and its arguments or keys, as
 * WRONGTYPE is Redis's, and nothing says it passes by itself. A module that words Redis's state as
 * Redis does (BUSY, LOADING, OOM ...) is classed by those words, which are checked first.
 */
export type RedisFailureCause =
  | 'connection' // lost or not connected: the outcome of the call is unknown
  | 'timeout' // no answer within COMMAND_TIMEOUT_MS: Redis stalled, outcome unknown
  | 'oom' // maxmemory reached with noeviction: writes refused
  | 'readonly' // a replica (or a failover in progress): writes refused
  | 'misconf' // a failed RDB save with stop-writes-on-bgsave-error: writes refused
  | 'noperm' // the gates' ACL user may not run the command or touch the key (an ACL changed): until it is given back
  | 'auth' // NOAUTH, WRONGPASS: the credentials changed (a password set or rotated): until the gates' are Redis's again
  | 'noreplicas' // NOREPLICAS: fewer replicas than min-replicas-to-write acknowledge: writes refused until they return
  | 'unavailable' // MASTERDOWN, TRYAGAIN, CLUSTERDOWN, max number of clients reached, shutting down: Redis cannot serve for now
  | 'wrongtype' // a key we write holds another type
  | 'nogroup' // our consumer group is gone
  | 'script' // a script error that is none of the above
  | 'busy' // a script or command keeps Redis busy (BUSY, LOADING)
  | 'other';

/** Causes that are Redis's state for now, never the message's: held (pending, uncharged) and retried until Redis accepts. */
export const REDIS_STATE_CAUSES: readonly RedisFailureCause[] = [
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
];

/** The client's words for a command Redis never answered (ioredis's AbortError among them): outcome unknown, no key's. */
const CONNECTION_LOST =
  /CONNECTION (IS )?CLOSE|COMMAND ABORTED|CONNECTION IS (ABORTED|DISCARDED)|STREAM ISN'T WRITEABLE|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|MAXRETRIESPERREQUEST|CONNECTION LOST|OFFLINE QUEUE|NONE OF STARTUP NODES|CLUSTER IS (DISCONNECT|ENDED)|CLUSTER ISN'T READY|NODE IS DISCONNECTED|NO MASTER NODE|ALL SENTINELS ARE UNREACHABLE/;

/**
 * An ACL refusal, as a command gets it (NOPERM) and as a script's call does: "ERR ACL failure in
 * script" (Redis 7.2+), "ERR The user executing the script can't access/run ..." (Redis 7.0).
 */
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

/**
 * True when `error` is Redis's state, not the key's: a read refused so is no answer about the key
 * (never "absent", never "unreadable"); the caller lets it fail the message, which the runtime holds.
 */
export function isRedisStateRefusal(error: unknown): boolean {
  return REDIS_STATE_CAUSES.includes(redisFailureCause(error));
}
