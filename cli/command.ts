import type { CliIo } from './io.js';

/** One command or sub-command, e.g. "dlq replay". */
export interface Command {
  /** Words after `quantum-gates`, e.g. "inject proposal". */
  readonly name: string;
  readonly summary: string;
  /** Full `--help` text. */
  readonly help: string;
  /** Resolves with the exit code; throws UsageError (2) or OperationalError (1). */
  run(argv: readonly string[], io: CliIo): Promise<number>;
}
