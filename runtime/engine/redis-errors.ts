/** What went wrong with a Redis call: the label of quantum_gates_commit_failures_total, a closed set. */
export type RedisFailureCause =
  | 'connection' // lost or not connected: the outcome of the call is unknown
  | 'timeout' // no answer within COMMAND_TIMEOUT_MS: Redis stalled, outcome unknown
  | 'oom' // maxmemory reached with noeviction: writes refused
  | 'readonly' // a replica (or a failover in progress): writes refused
  | 'misconf' // a failed RDB save with stop-writes-on-bgsave-error: writes refused
  | 'wrongtype' // a key we write holds another type
  | 'nogroup' // our consumer group is gone
  | 'script' // a script error that is none of the above
  | 'busy' // a script or command keeps Redis busy (BUSY, LOADING)
  | 'other';

export interface ClassifiedError {
  readonly cause: RedisFailureCause;
  /** True when Redis refuses every write for now: the system's fault, not the batch's. */
  readonly refusesWrites: boolean;
  /** One line, safe to log. */
  readonly message: string;
}

const WRITE_REFUSALS: readonly RedisFailureCause[] = ['oom', 'readonly', 'misconf'];

export function classifyRedisError(error: unknown): ClassifiedError {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300);
  const cause = causeOf(message);
  return { cause, refusesWrites: WRITE_REFUSALS.includes(cause), message };
}

const CONNECTION_LOST =
  /CONNECTION (IS )?CLOSED|STREAM ISN'T WRITEABLE|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|MAXRETRIESPERREQUEST|CONNECTION LOST|OFFLINE QUEUE/;

function causeOf(message: string): RedisFailureCause {
  // EXECABORT carries the reason its queued command was refused ("...previous errors: OOM ...").
  const text = message.toUpperCase();
  if (text.includes('COMMAND TIMED OUT')) return 'timeout';
  if (/\bOOM\b/.test(text)) return 'oom';
  if (/\bREADONLY\b/.test(text)) return 'readonly';
  if (/\bMISCONF\b/.test(text)) return 'misconf';
  if (/\bNOGROUP\b/.test(text)) return 'nogroup';
  if (/\bWRONGTYPE\b/.test(text)) return 'wrongtype';
  if (/\bBUSY\b|\bLOADING\b/.test(text)) return 'busy';
  if (CONNECTION_LOST.test(text)) return 'connection';
  if (/ERR .*SCRIPT|USER_SCRIPT|@USER_FUNCTION|ERR ERROR RUNNING SCRIPT/.test(text)) return 'script';
  return 'other';
}
