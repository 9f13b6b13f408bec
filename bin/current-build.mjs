// Which build of this checkout to run: dist/ (`npm run build`) while it is newer than every source,
// else a bundle of the current sources made once per change (below), else none (tsx then runs the
// sources). bin/quantum-gates.js runs the CLI from it; the tests that start the gates as a process
// run app/main.js from it (test/support/gates-process.ts), so they start in a fraction of a second
// of CPU instead of compiling some 700 modules through tsx at every start. Run as a script, it
// prints the folder (dist/ or the bundle's), or nothing when there is none.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const stamp = `${root}dist/build-info.json`;
// Inside the checkout, so the bundle finds its package.json and dependencies as dist/ does.
const cache = `${root}node_modules/.cache/quantum-gates/cli-build`;

/** Newest modification time of the files the build compiles or copies (the status page's, the Lua scripts). */
export function newestSource() {
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
export function devBundle(newest) {
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

/** The folder holding app/main.js and cli/main.js of the current sources, or undefined (then tsx runs them). */
export function currentBuild() {
  const newest = newestSource();
  if (existsSync(stamp) && newest <= statSync(stamp).mtimeMs) return `${root}dist`;
  return devBundle(newest);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(currentBuild() ?? '');
