import { readFileSync } from 'node:fs';

/**
 * A gate's Lua script, handlers/<gate>/lua/<name>.lua, read when the module that runs it loads (at
 * start). `../handlers/` from here is handlers/ in the sources, and dist/handlers/ from any bundled
 * module (each lands one folder below dist/; scripts/bundle.mjs copies the scripts there).
 */
export function gateLua(gate: string, name: string): string {
  return readFileSync(new URL(`../handlers/${gate}/lua/${name}.lua`, import.meta.url), 'utf8');
}
