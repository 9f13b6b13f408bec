import { readFileSync } from 'node:fs';

/**
 * A Lua script of runtime/lua/, read when the module that runs it loads (at start). `../lua/` from
 * here is runtime/lua/ in the sources, and dist/lua/ from any bundled module (each lands one folder
 * below dist/; scripts/bundle.mjs copies the scripts there).
 */
export function lua(name: string): string {
  return readFileSync(new URL(`../lua/${name}.lua`, import.meta.url), 'utf8');
}
