import { fstatSync } from 'node:fs';
import { pino, type LoggerOptions as LoggerSettings } from 'pino';
import { systemClock, type RootLogger } from '../runtime/host/index.js';

export interface LoggerOptions {
  /** `auto`: readable lines on a terminal, JSON elsewhere (the journal, files, pipes). */
  readonly format?: 'auto' | 'json' | 'pretty';
  /** Identical warnings and errors are written once per this window, with a count (0: all). */
  readonly repeatWindowMs?: number;
  readonly now?: () => number;
  /** Where lines go (tests); the process's standard output by default. */
  readonly output?: { write(text: string): unknown; isTTY?: boolean };
}

export function createLogger(level: string, env: NodeJS.ProcessEnv = process.env, options: LoggerOptions = {}): RootLogger {
  const output = options.output ?? process.stdout;
  const journal = stdoutIsJournal(env);
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && !journal && output.isTTY === true);
  const windowMs = options.repeatWindowMs ?? 60_000;
  const throttle = logThrottle(windowMs, options.now);
  const settings: LoggerSettings = {
    name: 'quantum-gates',
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: {
      logMethod(args, method, levelValue) {
        if (levelValue < 40 || windowMs === 0) return method.apply(this, args);
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

/** systemd sets JOURNAL_STREAM to the journal stream's device:inode; a redirected output does not match. */
export function stdoutIsJournal(env: NodeJS.ProcessEnv, stdout: { dev: number; ino: number } | undefined = statStdout()): boolean {
  return env.JOURNAL_STREAM !== undefined && stdout !== undefined && env.JOURNAL_STREAM === `${stdout.dev}:${stdout.ino}`;
}

function statStdout(): { dev: number; ino: number } | undefined {
  try {
    return fstatSync(1);
  } catch {
    return undefined;
  }
}

/** Each pino level's word on a terminal, its colour and its syslog priority (sd-daemon(3)). */
const LEVELS: Record<number, { word: string; colour: string; priority: number }> = {
  10: { word: 'TRACE', colour: '\x1b[90m', priority: 7 },
  20: { word: 'DEBUG', colour: '\x1b[90m', priority: 7 },
  30: { word: 'INFO ', colour: '\x1b[32m', priority: 6 },
  40: { word: 'WARN ', colour: '\x1b[33m', priority: 4 },
  50: { word: 'ERROR', colour: '\x1b[31m', priority: 3 },
  60: { word: 'FATAL', colour: '\x1b[41m', priority: 2 },
};

/** Prefixes "<N>", journald's priority, so `journalctl -p warning` works: without it every line is "info". */
export function withJournalPriority(line: string): string {
  const level = /^\{"level":(\d+)/.exec(line);
  return level ? `<${LEVELS[Number(level[1])]?.priority ?? 7}>${line}` : line;
}

const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/** pino's JSON line for a terminal: time, level, message, then the other fields as key=value. */
export function prettyLine(json: string, colour: boolean): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = LEVELS[Number(record.level)] ?? { word: String(record.level), colour: '' };
  const time = typeof record.time === 'string' ? record.time.slice(11, 23) : '';
  const fields = Object.entries(record)
    .filter(([key]) => !OMITTED.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`)
    .join(' ');
  const word = colour ? `${level.colour}${level.word}\x1b[0m` : level.word;
  return `${time} ${word} ${String(record.msg ?? '')}${fields === '' ? '' : `  ${fields}`}\n`;
}

/**
 * Identical warnings and errors, written once per window, the next carrying `repeated: N`: a Redis
 * outage made every BullMQ worker log "worker error" 13 times a second, burying the line that said why.
 * It remembers `maxKeys` distinct lines, so its memory stays bounded.
 */
export function logThrottle(windowMs: number, now: () => number = systemClock.now, maxKeys = 1000) {
  const seen = new Map<string, { writtenAt: number; suppressed: number }>();
  return {
    admit(key: string): { write: boolean; repeated: number } {
      const at = now();
      const entry = seen.get(key);
      if (entry !== undefined && at - entry.writtenAt < windowMs) {
        entry.suppressed += 1;
        return { write: false, repeated: 0 };
      }
      const repeated = entry?.suppressed ?? 0;
      seen.delete(key); // re-inserted last, so the map's order is the order of writing
      seen.set(key, { writtenAt: at, suppressed: 0 });
      if (seen.size > maxKeys) seen.delete(seen.keys().next().value!);
      return { write: true, repeated };
    },
  };
}

/** Bindings naming one message or job: with them in the key, a warning each budget tick was never repeated. */
const PER_MESSAGE_BINDING = /,"(?:id|job|plan_id|trace_id)":"(?:[^"\\]|\\.)*"/g;

/** Two lines are identical in level, bindings (but PER_MESSAGE_BINDING), message, error and symbol. */
function throttleKey(level: number, bindings: string, args: readonly unknown[]): string {
  const message = args.find((a): a is string => typeof a === 'string') ?? '';
  const first = args[0];
  const fields = typeof first === 'object' && first !== null ? (first as { err?: unknown; symbol?: unknown }) : undefined;
  const err = fields !== undefined && 'err' in fields ? String(fields.err) : '';
  const symbol = typeof fields?.symbol === 'string' ? fields.symbol : '';
  return `${level}|${bindings.replace(PER_MESSAGE_BINDING, '')}|${message}|${err}|${symbol}`;
}
