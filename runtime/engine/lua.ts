import { readFileSync } from 'node:fs';

/** A script of runtime/lua/ (from a bundled module, one folder below dist/: dist/lua/, where scripts/bundle.mjs copies them). */
export function lua(name: string): string {
  return readFileSync(new URL(`../lua/${name}.lua`, import.meta.url), 'utf8');
}
