import { loadConfiguration, parseRuntimeConfig, type AnyHandler, type RuntimeConfig } from '../runtime/host/index.js';
import { problemCollector, type Env } from '../schemas/env.js';

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

/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two words. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * ` (did you mean "kill"?)` for the closest known word within a third of its length (at least
 * one edit), or nothing when no word is that close: a wild guess would mislead more than help.
 * Words equally close are all named, and so is every side of a switch (`sides`, e.g. on and off)
 * when one of them is: a guess must never turn "kill of" into the opposite of what was meant.
 */
export function didYouMean(typed: string, known: readonly string[], prefix = '', sides: readonly (readonly string[])[] = []): string {
  let best: { words: string[]; distance: number } | undefined;
  for (const word of known) {
    const distance = editDistance(typed.toLowerCase(), word.toLowerCase());
    if (distance > Math.max(1, Math.floor(word.length / 3))) continue;
    if (best === undefined || distance < best.distance) best = { words: [word], distance };
    else if (distance === best.distance) best.words.push(word);
  }
  if (best === undefined) return '';
  const named = new Set(best.words);
  for (const group of sides) if (group.some((w) => named.has(w))) for (const w of group) if (known.includes(w)) named.add(w);
  const quoted = known.filter((w) => named.has(w)).map((w) => `"${prefix}${w}"`);
  return ` (did you mean ${quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`}?)`;
}
