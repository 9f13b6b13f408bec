import { didYouMean } from './did-you-mean.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The prefixes of the gates' own settings. A variable with one of them that no setting reads is a
 * slip (GOV_MAX_OPEN_POSITION) or a setting of another program; either way nobody should learn it
 * from a trade that went through.
 */
export const SETTING_PREFIXES = [
  'GOV_',
  'P26_',
  'P27_',
  'P28_',
  'HEAT_',
  'BUDGET_',
  'OUTCOME_',
  'POSITION_',
  'DASHBOARD_',
  'REDIS_',
] as const;

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

export interface UnknownSettings {
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
  for (const name of Object.keys(env).sort()) {
    if (known.has(name) || !SETTING_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    const hint = didYouMean(name, knownNames);
    if (hint === '') ignored.push(name);
    else typos.push(`${name}: is not a setting of quantum-gates${hint}`);
  }
  return { typos, ignored };
}
