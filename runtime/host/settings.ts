import type { AnyHandler } from '../contract/handler.js';
import { ConfigError } from '../../schemas/env.js';
import { clusterSettingProblems, parseRuntimeConfig, type RuntimeConfig } from './config.js';
import { selectHandlers } from './registry.js';
import { findUnknownSettings, settingsRead } from './unknown-settings.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Parses every setting (runtime and each selected handler) and reports all problems together. */
export function loadConfiguration(
  env: Env,
  all: readonly AnyHandler[],
  /** Further settings to validate in the same pass (the HTTP plugins'), throwing ConfigError. */
  checkMore?: (env: Env, host: string) => void,
): { config: RuntimeConfig; hosted: { handler: AnyHandler; config: unknown }[]; ignoredSettings: readonly string[] } {
  const problems: string[] = [];
  const attempt = <T>(parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
      return undefined;
    }
  };
  const config = attempt(() => parseRuntimeConfig(env));
  if (config) problems.push(...clusterSettingProblems(config));
  const selected = attempt(() => selectHandlers(all, env.HANDLERS)) ?? [];
  const hosted = selected.map((handler) => ({ handler, config: attempt(() => handler.config(env)) }));
  // A value no gate can take stops the start even when the gate that reads it runs elsewhere
  // (P28_MODE=Enforce beside HANDLERS=governor): it is a slip in a file some process reads.
  for (const handler of all) if (!selected.includes(handler)) attempt(() => handler.config(env));
  if (checkMore) attempt(() => checkMore(env, config?.HOST ?? env.HOST ?? '127.0.0.1'));
  const known = new Set<string>(['HANDLERS']);
  const parsers: ((e: Env) => unknown)[] = [parseRuntimeConfig, ...all.map((h) => (e: Env) => h.config(e))];
  if (checkMore) parsers.push((e) => checkMore(e, '127.0.0.1'));
  for (const parse of parsers) for (const name of settingsRead(parse, env)) known.add(name);
  const unknown = findUnknownSettings(env, known);
  problems.push(...unknown.typos);
  if (problems.length > 0 || config === undefined) throw new ConfigError([...new Set(problems)]);
  return { config, hosted, ignoredSettings: unknown.ignored };
}
