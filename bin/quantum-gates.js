#!/usr/bin/env -S node --
// `node --` ends Node's own options before the script: Node 20 otherwise reads a script's
// `--env-file PATH` as its own option and exits 9 when PATH cannot be read (nodejs/node#54232).
// The CLI, in this same process so signals reach `quantum-gates start` directly and the exit
// code is the command's own. It runs the compiled build (`npm run build` → dist/): no compiler
// at start, and `npm ci --omit=dev` installs only what the build imports. A checkout whose
// sources changed after the last build, or that has no build, runs a bundle of the current
// sources made once per change by esbuild (a dev dependency) under node_modules/.cache/ (a build
// cache, kept out of .data, the data directory of npm start's private Redis), else the
// TypeScript through tsx, so a developer never runs stale code and rarely waits for a compiler.
// First, before any module that an older Node cannot run: a Node older than package.json's
// "engines" is refused in one line (bin/node-version.cjs).
import './node-version.cjs';
import { devBundle, newestSource, stamp } from './current-build.mjs';
import { statSync, existsSync } from 'node:fs';

async function loadTsx() {
  try {
    return (await import('tsx/esm/api')).register;
  } catch {
    return undefined;
  }
}

const built = existsSync(stamp);
const newest = newestSource();
const stale = built && newest > statSync(stamp).mtimeMs;
const bundled = !built || stale ? devBundle(newest) : undefined;
const register = (!built || stale) && bundled === undefined ? await loadTsx() : undefined;
if (bundled) {
  await import(`${bundled}/cli/main.js`);
} else if (register) {
  register();
  await import('../cli/main.ts');
} else if (built) {
  if (stale) console.error('quantum-gates: warning: the sources changed after the last build; run `npm run build`.');
  await import('../dist/cli/main.js');
} else {
  console.error('quantum-gates: no compiled build (dist/) and no tsx to run the sources: run `npm run build` first.');
  process.exit(1);
}
