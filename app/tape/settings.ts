import { createHash } from 'node:crypto';
import type { Env } from '../../schemas/env.js';
import { settingsRead } from '../settings.js';

/**
 * A gate's settings as the tape keeps them (issue #60 item 4): the variables its settings parser
 * read, as they were set (a variable left unset is not there: the parser took its default), and
 * what the parser made of them. A rehearsal parses `env` with the release's parsers, so a changed
 * default shows as the decisions it changes, and names each setting whose parsed value differs
 * from `config`.
 *
 * Secrets stay off the tape: the variables that are credentials (CREDENTIALS: Redis's password,
 * the dashboard's; a rehearsal takes them from its own environment), and the user and password of
 * a URL (redis://user:pass@host → redis://host). A setting is known by what it is, not by a word
 * in its name: POSITION_P33_UNIVERSE_KEYS names Redis keys and is taped.
 */
export interface TapedSettings {
  readonly env: Readonly<Record<string, string>>;
  readonly config: unknown;
}

/** Where a gate's settings are kept: a hash of digest → TapedSettings JSON, a field per environment it ran with. */
export function settingsKey(gate: string): string {
  return `quantum:gates:tape-settings:${gate}`;
}

/**
 * The settings that hold a credential, every one the gates read (test/unit/tape-settings.test.ts
 * holds the settings parsers to this list: a new PASSWORD, TOKEN or SECRET setting must be named here).
 */
export const CREDENTIALS: ReadonlySet<string> = new Set([
  'REDIS_PASSWORD',
  'DASHBOARD_PASSWORD',
  'DASHBOARD_VIEWER_PASSWORD',
  'DASHBOARD_TOKEN',
]);

/** A variable (or a config's field of that name) the tape never holds: a credential. */
export const isCredential = (name: string): boolean => CREDENTIALS.has(name);

/** A value with a URL's credentials taken out (scheme://user:password@host → scheme://host). */
export const withoutCredentials = (value: string): string => value.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1');

/** A parsed config as the tape keeps it: JSON, without its credentials' fields, a URL's credentials out of its strings. */
function redacted(value: unknown): unknown {
  if (typeof value === 'string') return withoutCredentials(value);
  if (Array.isArray(value)) return value.map(redacted);
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).flatMap(([k, v]) => (isCredential(k) ? [] : [[k, redacted(v)]])));
  return value;
}

/** What the tape keeps of a gate's settings: the variables `parse` reads that `env` sets, and `config` (what it made of them). */
export function tapedSettings(parse: (env: Env) => unknown, config: unknown, env: Env): TapedSettings {
  const taped: Record<string, string> = {};
  for (const name of [...settingsRead(parse, env)].sort()) {
    const value = env[name];
    if (value !== undefined && !isCredential(name)) taped[name] = withoutCredentials(value);
  }
  return { env: taped, config: redacted(JSON.parse(JSON.stringify(config ?? null))) };
}

/** The settings' name on the tape: the same environment and config, the same digest (16 hex digits). */
export function settingsDigest(settings: TapedSettings): string {
  return createHash('sha1').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
}

/** A parsed config as the tape would keep it, for comparing with a taped one. */
export const comparableConfig = (config: unknown): unknown => redacted(JSON.parse(JSON.stringify(config ?? null)));
