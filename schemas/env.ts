/** Reading settings from the environment (a gate's `config`, the runtime's own), shared by gates, runtime and CLI. */
import * as z from 'zod';
import { numberProblemDetail, readDecimal, settingNumbers } from '../domain/number.js';
import { didYouMean } from './did-you-mean.js';

export { didYouMean } from './did-you-mean.js';

/** Thrown when environment variables fail validation; carries one line per bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** The process environment, or a file's settings read like it. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Several parses whose problems are reported together: `attempt` returns a parse's value, or
 * undefined once its ConfigError's problems are noted (any other error is thrown); `throwIfAny`
 * throws them all, each once, if any.
 */
export function problemCollector() {
  const problems: string[] = [];
  return {
    note: (problem: string) => void problems.push(problem),
    attempt<T>(parse: () => T): T | undefined {
      try {
        return parse();
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        problems.push(...error.problems);
        return undefined;
      }
    },
    throwIfAny(): void {
      if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
    },
  };
}

/** Variables whose values must never reach a log line, even in an error about them. */
function isSecret(variable: string): boolean {
  return /PASSWORD|TOKEN|SECRET|KEY|REDIS_URL/i.test(variable);
}

/** A value with a URL's user:password@ part masked: any setting may hold a URL with credentials. */
function withoutCredentials(value: string): string {
  return value.replace(/(\/\/)[^/@\s]*@/g, '$1***@');
}

/**
 * Parses environment variables against a zod object whose keys are the variable names.
 * Empty strings count as unset so `FOO=` in an env file falls back to the default. Values are
 * trimmed, except a choice's (envChoice, envBool): it must be one of its values exactly.
 * Every problem is reported at once, each naming its variable.
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: Env): z.infer<S> {
  const picked: Record<string, string> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') picked[key] = exactSettings.has(field as z.ZodType) ? value : value.trim();
  }
  const result = schema.safeParse(picked);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const name = issue.path.join('.') || '(environment)';
      const variable = String(issue.path[0]);
      const got = picked[variable];
      const shown = got === undefined ? '' : isSecret(variable) ? ' (value hidden)' : ` (got "${withoutCredentials(got)}")`;
      return `${name}: ${issue.message}${shown}`;
    }),
  );
}

/**
 * A setting's number, by the one rule of domain/number.ts, without exponents: a person writes
 * 1000000, and 0x10, 0b11 or 1e3 in an env file is more likely a slip than a number.
 */
const settingNumber = (kind: string) =>
  z.string().transform((text, ctx) => {
    const reading = readDecimal(text, settingNumbers);
    if (reading.ok) return reading.value;
    ctx.addIssue({ code: 'custom', message: `must be ${kind} written in plain decimal digits${numberProblemDetail(reading.problem)}` });
    return z.NEVER;
  });

/** Reusable field types for env schemas. */
export const envNumber = (defaultValue: number) => settingNumber('a number').default(defaultValue);
export const envInt = (defaultValue: number, min = 0) =>
  settingNumber('a whole number')
    .pipe(z.number().int('must be a whole number').min(min, `must be at least ${min}`))
    .default(defaultValue);
/** Choice settings (envChoice, envBool): parseEnv hands them their value untrimmed. */
const exactSettings = new WeakSet<z.ZodType>();

/** Lower case, no surrounding spaces, `-` as `_`: how a slip of case or spacing is told from a different word. */
const normalised = (text: string) => text.trim().toLowerCase().replaceAll('-', '_');

/**
 * Why `typed` is none of `values`, listing them all, with the one it differs from only in case,
 * spaces or `-`/`_` (values that differ only so mean the same: true, TRUE), else the one it is a
 * slip of (`enfroce`: "enforce"). `spelling: false` for a switch, whose nearest word may be the
 * other side of it ("of": on or off?): there only case and spacing are guessed.
 */
function choiceProblem(typed: string, values: readonly string[], spelling = true): string {
  const same = values.find((v) => normalised(v) === normalised(typed));
  const hint = same !== undefined ? ` (did you mean "${same}"?)` : spelling ? didYouMean(typed.trim(), values) : '';
  return `must be exactly one of ${values.map((v) => `"${v}"`).join(', ')}${hint}`;
}

/**
 * A setting that takes one of `values`, exactly as written (case and spaces count): anything else
 * stops the start naming every value, as an unknown value would otherwise pick a path silently.
 */
export function envChoice<const T extends readonly [string, ...string[]]>(values: T, defaultValue: T[number]) {
  const schema = z.enum(values, { error: (issue) => choiceProblem(String(issue.input), values) }).default(defaultValue);
  exactSettings.add(schema);
  return schema;
}

const BOOL_VALUES = ['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', 'TRUE', 'FALSE', 'True', 'False'] as const;
const TRUE_VALUES: readonly string[] = ['1', 'true', 'yes', 'on'];

export const envBool = (defaultValue: boolean) => {
  const schema = z
    .string()
    .transform((text, ctx): boolean => {
      if ((BOOL_VALUES as readonly string[]).includes(text)) return TRUE_VALUES.includes(text.toLowerCase());
      ctx.addIssue({ code: 'custom', message: choiceProblem(text, BOOL_VALUES, false) });
      return z.NEVER;
    })
    .default(defaultValue);
  exactSettings.add(schema);
  return schema;
};

export const envMode = (defaultValue: 'shadow' | 'enforce') => envChoice(['shadow', 'enforce'], defaultValue);

/** REDIS_URL: redis:// or rediss://, checked as ioredis will read it (checkRedisUrl). */
export const redisUrlSetting = z
  .string()
  .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
  .superRefine(checkRedisUrl)
  .optional();

/** What ioredis would throw on with a stack trace printing the URL, or read differently; never echoes the value. */
function checkRedisUrl(value: string, ctx: z.RefinementCtx): void {
  if (!/^rediss?:\/\//.test(value)) return; // the regex above names that one
  const issue = (message: string) => ctx.addIssue({ code: 'custom', message });
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return issue(
      'is not a valid URL (a port over 65535, or a character in the password such as / # ? @ that must be percent-encoded: %2F %23 %3F %40)',
    );
  }
  // ioredis percent-decodes the credentials and throws a bare URIError on a malformed escape.
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    issue('has a malformed percent-escape in its user or password (% must be followed by two hex digits; write %25 for %)');
  }
  if (url.hostname === '') issue('names no host (expected redis://[:password@]host:port/db)');
  if (url.port === '0') issue('must name a port from 1 to 65535');
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d+$/.test(url.pathname))
    issue('the path must be a database number, e.g. redis://host:6379/0');
}
