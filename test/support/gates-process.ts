import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
let entry: readonly string[] | undefined;

/**
 * Node's arguments that run the gates' entry point (app/main.ts) of the sources as they are now:
 * dist/app/main.js while `npm run build`'s dist/ is newer than every source (as in CI, which builds
 * first), else a bundle of the current sources made once per change (bin/current-build.mjs, the
 * one the CLI runs), else the TypeScript through tsx. The same code either way; a start from a
 * bundle costs ~0.2 s of CPU where tsx compiled the ~700 modules again at every start (~1.3 s), and
 * the tests that start the gates as a process start them dozens of times.
 */
export function gatesEntry(): readonly string[] {
  if (entry === undefined) {
    const found = spawnSync(process.execPath, [resolve(root, 'bin/current-build.mjs')], { cwd: root, encoding: 'utf8' });
    const dir = found.status === 0 ? found.stdout.trim() : '';
    entry = dir === '' ? ['--import', 'tsx', 'app/main.ts'] : [resolve(dir, 'app/main.js')];
  }
  return entry;
}
