import { fstatSync } from 'node:fs';
import { pino, type Logger as PinoLogger, type LoggerOptions as LoggerSettings } from 'pino';
import { prettyLine } from './log-format.js';
import { LogThrottle, throttleKey } from './log-throttle.js';

export type RootLogger = PinoLogger;

export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerOptions {
  /** `auto`: readable lines on a terminal, JSON elsewhere (the journal, files, pipes). */
  readonly format?: LogFormat;
  /** Identical warnings and errors are written once per this window, with a count (0: all). */
  readonly repeatWindowMs?: number;
  /** The clock of the repeat window (tests). */
  readonly now?: () => number;
  /** Where lines go (tests); the process's standard output by default. */
  readonly output?: { write(text: string): unknown; isTTY?: boolean };
}

export function createLogger(
  level: string,
  name = 'quantum-gates',
  env: NodeJS.ProcessEnv = process.env,
  options: LoggerOptions = {},
): RootLogger {
  const output = options.output ?? process.stdout;
  const journal = stdoutIsJournal(env);
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && !journal && output.isTTY === true);
  const throttle = new LogThrottle(options.repeatWindowMs ?? 60_000, options.now);
  const settings: LoggerSettings = {
    name,
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: {
      logMethod(args, method, levelValue) {
        if (levelValue < 40 || (options.repeatWindowMs ?? 60_000) === 0) return method.apply(this, args);
        const { write, repeated } = throttle.admit(throttleKey(levelValue, JSON.stringify(this.bindings()), args));
        if (!write) return;
        if (repeated === 0) return method.apply(this, args);
        const [first, ...rest] = args as unknown[];
        const counted = typeof first === 'object' && first !== null ? [{ ...first, repeated }, ...rest] : [{ repeated }, first, ...rest];
        // pino's own signature is overloaded; the arguments keep the shape they came in.
        return method.apply(this, counted as Parameters<typeof method>);
      },
      ...(journal ? { streamWrite: withJournalPriority } : {}),
    },
  };
  if (pretty) return pino(settings, { write: (line: string) => output.write(prettyLine(line, output.isTTY === true)) });
  if (options.output !== undefined) return pino(settings, { write: (line: string) => output.write(line) });
  return pino(settings);
}

/**
 * systemd sets JOURNAL_STREAM to the device:inode of the journal stream it connected; the
 * standard output is that stream only when they match (not when the output is redirected).
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv, stdout: { dev: number; ino: number } | undefined = statStdout()): boolean {
  const journal = env.JOURNAL_STREAM;
  return journal !== undefined && stdout !== undefined && journal === `${stdout.dev}:${stdout.ino}`;
}

function statStdout(): { dev: number; ino: number } | undefined {
  try {
    return fstatSync(1);
  } catch {
    return undefined;
  }
}

/** pino level → syslog priority (sd-daemon(3)): trace/debug 7, info 6, warn 4, error 3, fatal 2. */
function syslogPriority(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

/**
 * Prefixes a pino line with "<N>", which journald reads as the line's priority (and strips), so
 * `journalctl -p warning` shows warnings and errors: without it every line is "info".
 */
export function withJournalPriority(line: string): string {
  const level = /^\{"level":(\d+)/.exec(line);
  return level ? `<${syslogPriority(Number(level[1]))}>${line}` : line;
}

/**
 * A message's logger, bound to its ids. The pino child is built only when a line at an enabled
 * level is written, so a handler that logs at info under LOG_LEVEL=warn costs nothing per message.
 */
export class LazyChildLogger {
  private child: RootLogger | undefined;

  constructor(
    private readonly parent: RootLogger,
    private readonly bindings: Readonly<Record<string, string | undefined>>,
  ) {}

  private bound(): RootLogger {
    this.child ??= this.parent.child(this.bindings);
    return this.child;
  }
  debug(obj: object, msg?: string): void {
    if (this.parent.isLevelEnabled('debug')) this.bound().debug(obj, msg);
  }
  info(obj: object, msg?: string): void {
    if (this.parent.isLevelEnabled('info')) this.bound().info(obj, msg);
  }
  warn(obj: object, msg?: string): void {
    if (this.parent.isLevelEnabled('warn')) this.bound().warn(obj, msg);
  }
  error(obj: object, msg?: string): void {
    if (this.parent.isLevelEnabled('error')) this.bound().error(obj, msg);
  }
}
