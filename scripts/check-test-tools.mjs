// `npm test` needs three programs besides Node: say so at once, with the command that installs
// them, rather than fail minutes in when the first test that needs one runs.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

const found = (command) => spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
const executable = (path) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

const needed = [
  { what: 'redis-server (every integration test starts its own)', ok: found('redis-server'), debian: 'redis-server' },
  { what: '/usr/bin/chromium (the status page and dashboard tests)', ok: executable('/usr/bin/chromium'), debian: 'chromium' },
  { what: 'promtool (the /metrics format check)', ok: found('promtool'), debian: 'prometheus' },
];
const missing = needed.filter((n) => !n.ok);
if (missing.length > 0) {
  console.error(`npm test: missing ${missing.map((m) => m.what).join('; ')}.`);
  // A root shell (a minimal Debian or a container) often has no sudo, and needs none.
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  console.error(`  Install (Debian/Ubuntu): ${sudo}apt-get install -y --no-install-recommends ${missing.map((m) => m.debian).join(' ')}`);
  process.exit(1);
}
