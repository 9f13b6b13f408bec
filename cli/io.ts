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
  /** `envFile` was found in the units' directory, not named; `shellEnv` is the environment without it. */
  readonly envFileByDefault?: { readonly shellEnv: Readonly<Record<string, string | undefined>> };
  /** --private: the private redis-server of this checkout's `npm start`, whatever else is around. */
  readonly privateRedis?: true;
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
