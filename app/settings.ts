import { loadConfiguration, parseRuntimeConfig, type AnyHandler, type RuntimeConfig } from '../runtime/host/index.js';
import { didYouMean } from '../schemas/did-you-mean.js';
import { problemCollector, type Env } from '../schemas/env.js';

export { didYouMean } from '../schemas/did-you-mean.js';

/**
 * Start-up's check of the environment, every problem reported together: the runtime's settings
 * and the hosted gates' (loadConfiguration), every other gate's, the HTTP plugins' (`checkMore`,
 * throwing ConfigError) and a variable one slip away from a setting's name.
 */
export function checkConfiguration(
  env: Env,
  all: readonly AnyHandler[],
  checkMore?: (env: Env, host: string) => void,
): ReturnType<typeof loadConfiguration> & { ignoredSettings: readonly string[] } {
  const { attempt, note, throwIfAny } = problemCollector();
  const loaded = attempt(() => loadConfiguration(env, all));
  // A value no gate can take stops the start even when the gate that reads it runs elsewhere
  // (P28_MODE=Enforce beside HANDLERS=governor): it is a slip in a file some process reads.
  for (const handler of all) attempt(() => handler.config(env));
  const host = attempt(() => parseRuntimeConfig(env))?.HOST ?? env.HOST ?? '127.0.0.1';
  if (checkMore) attempt(() => checkMore(env, host));
  const known = new Set<string>(['HANDLERS']);
  const parsers: ((e: Env) => unknown)[] = [parseRuntimeConfig, ...all.map((h) => (e: Env) => h.config(e))];
  if (checkMore) parsers.push((e) => checkMore(e, '127.0.0.1'));
  for (const parse of parsers) for (const name of settingsRead(parse, env)) known.add(name);
  const unknown = findUnknownSettings(env, known);
  for (const typo of unknown.typos) note(typo);
  throwIfAny();
  return { ...loaded!, ignoredSettings: unknown.ignored }; // loaded: else throwIfAny threw
}

/** True when the environment names a Redis of its own rather than the default local one. */
export function redisIsConfigured(config: RuntimeConfig): boolean {
  return (
    config.REDIS_URL !== undefined ||
    config.REDIS_HOST !== undefined ||
    config.REDIS_CLUSTER_NODES !== undefined ||
    config.REDIS_SENTINELS !== undefined
  );
}

/**
 * The prefixes of the gates' own settings. A variable with one of them that no setting reads is a
 * slip (GOV_MAX_OPEN_POSITION) or a setting of another program; either way nobody should learn it
 * from a trade that went through.
 */
const SETTING_PREFIXES = ['GOV_', 'P26_', 'P27_', 'P28_', 'HEAT_', 'BUDGET_', 'OUTCOME_', 'POSITION_', 'DASHBOARD_', 'REDIS_'] as const;

/**
 * The variable names `parse` reads, learnt by handing it an environment that records each read:
 * every settings parser reads its variables by name (parseEnv), so no list is kept twice.
 */
export function settingsRead(parse: (env: Env) => unknown, env: Env): Set<string> {
  const read = new Set<string>();
  const recording = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key) as unknown;
    },
  });
  try {
    parse(recording);
  } catch {
    // The real parse reports the parser's problems; only the names it asked for matter here.
  }
  return read;
}

interface UnknownSettings {
  /** Start-up problems: a variable close to a known setting's name, with that name. */
  readonly typos: readonly string[];
  /** Variables with a setting prefix that no setting reads and nothing is close to: named, not fatal. */
  readonly ignored: readonly string[];
}

/** Variables of `env` with a setting prefix that no known setting reads. */
export function findUnknownSettings(env: Env, known: ReadonlySet<string>): UnknownSettings {
  const typos: string[] = [];
  const ignored: string[] = [];
  const knownNames = [...known];
  const bySpelling = new Map(knownNames.map((k) => [spelling(k), k]));
  for (const name of Object.keys(env).sort()) {
    // Compared as the eye reads them: gov_max_total_notional_usdt and GOVMAX_OPEN_POSITIONS are slips, not other programs'.
    if (known.has(name) || !SETTING_PREFIXES.some((prefix) => spelling(name).startsWith(spelling(prefix)))) continue;
    const same = bySpelling.get(spelling(name));
    const hint = same !== undefined ? ` (did you mean "${same}"?)` : didYouMean(name, knownNames);
    if (hint === '') ignored.push(name);
    else typos.push(`${name}: is not a setting of quantum-gates${hint}`);
  }
  return { typos, ignored };
}
/** A name as compared with the settings': any case, no underscores. */
const spelling = (name: string) => name.toUpperCase().replaceAll('_', '');
