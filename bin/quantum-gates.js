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
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = `${root}dist/build-info.json`;
// Inside the checkout, so the bundle finds its package.json and dependencies as dist/ does.
const cache = `${root}node_modules/.cache/quantum-gates/cli-build`;

/** Newest modification time of the files the build compiles or copies (the status page's, the Lua scripts). */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|js|css|html|lua)$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of ['app', 'cli', 'runtime', 'handlers', 'schemas', 'domain']) if (existsSync(root + dir)) walk(root + dir);
  return newest;
}

/**
 * A bundle of the sources as they are now, made by scripts/bundle.mjs into a folder named by the
 * sources' newest time, so a folder is never rewritten while another call runs from it. One call
 * builds (about a second); calls that start meanwhile wait for it, and every later call until the
 * next edit starts as fast as from dist/. Undefined where esbuild is not installed (a production
 * install has dist/) or the build fails: then tsx runs the sources.
 */
function devBundle(newest) {
  const dir = `${cache}/${Math.floor(newest)}`;
  if (existsSync(`${dir}/cli/main.js`)) return dir;
  if (!existsSync(`${root}node_modules/esbuild`)) return undefined;
  mkdirSync(cache, { recursive: true });
  let lock;
  try {
    lock = openSync(`${dir}.lock`, 'wx');
  } catch {
    // Another call is building it: wait for its folder (a stale lock left by a killed build gives
    // way to tsx after the wait rather than blocking every call).
    for (let i = 0; i < 100 && !existsSync(`${dir}/cli/main.js`); i++) spawnSync('sleep', ['0.1']);
    return existsSync(`${dir}/cli/main.js`) ? dir : undefined;
  }
  try {
    const tmp = `${dir}.tmp`;
    const run = spawnSync(process.execPath, ['scripts/bundle.mjs', tmp], { cwd: root, stdio: ['ignore', 'ignore', 'ignore'] });
    if (run.status === 0) renameSync(tmp, dir);
    else rmSync(tmp, { recursive: true, force: true });
  } finally {
    closeSync(lock);
    rmSync(`${dir}.lock`, { force: true });
  }
  return existsSync(`${dir}/cli/main.js`) ? dir : undefined;
}

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
