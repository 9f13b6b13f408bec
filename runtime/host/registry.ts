import { ConfigError } from '../../schemas/env.js';
import type { AnyHandler } from '../contract/handler.js';

/** Picks the handlers named in HANDLERS (comma-separated), or all of them when it is empty. */
export function selectHandlers(all: readonly AnyHandler[], spec: string | undefined): AnyHandler[] {
  if (spec === undefined || spec.trim() === '') return [...all];
  const names = spec
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !all.some((h) => h.name === name));
  if (unknown.length > 0) {
    throw new ConfigError([`HANDLERS: unknown handler(s) ${unknown.join(', ')}; known: ${all.map((h) => h.name).join(', ')}`]);
  }
  return all.filter((h) => names.includes(h.name));
}
