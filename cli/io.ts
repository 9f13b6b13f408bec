/** Where a command writes and what it may read from its process, so commands are testable in-process. */
export interface CliIo {
  /** Machine-readable or primary output. */
  out(text: string): void;
  /** Diagnostics, progress and warnings: never mixed into output a script parses. */
  err(text: string): void;
  /** Raw stderr writes (no newline added), for a progress line redrawn in place. */
  errRaw(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The env file `env` was read from (--env-file, or a unit's file by default), if any. */
  readonly envFile?: string;
  /** True when stderr is a terminal (progress bars redraw in place only then). */
  readonly errIsTty: boolean;
  now(): number;
}

export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    errRaw: (text) => process.stderr.write(text),
    env: process.env,
    errIsTty: process.stderr.isTTY === true,
    now: Date.now,
  };
}
