// `npm run build`'s last step: dist/build-info.json names the version and the git commit the
// build came from (quantum_gates_build_info, `quantum-gates --version`). Outside a git checkout
// (a tarball) the commit is "unknown". An argument names another build folder than dist/.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  if (dirty.trim() !== '') commit += '-dirty';
} catch {
  // not a git checkout, or no git installed
}
const out = process.argv[2] ?? 'dist';
writeFileSync(`${out}/build-info.json`, JSON.stringify({ version, commit }) + '\n');
console.log(`${out}/build-info.json: version ${version}, commit ${commit}`);
