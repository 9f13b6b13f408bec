/**
 * Exit codes scripts can rely on. They are part of the CLI's contract and documented in
 * `quantum-gates --help` and docs/operations.md: change them only with a major version.
 */
export const ExitCode = {
  ok: 0,
  /** Something outside the command failed: Redis or the server unreachable, an entry missing, a replay refused. */
  failure: 1,
  /** The command line or the data given on it is wrong; nothing was written. */
  usage: 2,
  /** `status`: the gates answered DEGRADED, something needs a person but trading goes on. */
  degraded: 3,
  /** `status`: the gates answered BLOCKING, trading is held up (Redis unreachable, kill switch on, governor disarmed...). */
  blocking: 4,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Bad arguments or invalid input: the operator must change the command (exit 2). */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to point at, e.g. "inject proposal". */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `parse()`'s answer; what it throws becomes a usage error of `command` led by `label`. */
export function parsedOrUsage<T>(label: string, command: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(`${label}: ${(error as Error).message}`, command);
  }
}

/** The command was right but could not be carried out (exit 1). */
export class OperationalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperationalError';
  }
}
