#!/usr/bin/env -S node --
// `node --` ends Node's own options before the script: Node 20 otherwise reads a script's
// `--env-file PATH` as its own option and exits 9 when PATH cannot be read (nodejs/node#54232).
// The CLI, in this same process so signals reach `quantum-gates start` directly and the exit
// code is the command's own. It runs the compiled build (`npm run build` → dist/): no compiler
// at start, and `npm ci --omit=dev` installs only what the build imports. A checkout whose
// sources changed after the last build, or that has no build, runs the TypeScript through tsx
// (a dev dependency) instead, so a developer never runs stale code.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = `${root}dist/build-info.json`;

/** Newest modification time of the TypeScript sources the build compiles. */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of ['app', 'cli', 'runtime', 'handlers', 'schemas', 'domain']) if (existsSync(root + dir)) walk(root + dir);
  return newest;
}

async function loadTsx() {
  try {
    return (await import('tsx/esm/api')).register;
  } catch {
    return undefined;
  }
}

const built = existsSync(stamp);
const stale = built && newestSource() > statSync(stamp).mtimeMs;
const register = !built || stale ? await loadTsx() : undefined;
if (register) {
  register();
  await import('../cli/main.ts');
} else if (built) {
  if (stale) console.error('quantum-gates: warning: the sources changed after the last build; run `npm run build`.');
  await import('../dist/cli/main.js');
} else {
  console.error('quantum-gates: no compiled build (dist/) and no tsx to run the sources: run `npm run build` first.');
  process.exit(1);
}
