import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const script = resolve(import.meta.dirname, '../../scripts/check-test-tools.mjs');

describe('npm test’s check of the programs it needs', () => {
  it('passes on this machine, which has them', () => {
    expect(spawnSync(process.execPath, [script], { encoding: 'utf8' }).status).toBe(0);
  });

  it('fails at once without them, naming each and the command that installs it', () => {
    const bin = mkdtempSync(join(tmpdir(), 'qg-nobin-'));
    try {
      symlinkSync(process.execPath, join(bin, 'node'));
      const run = spawnSync(join(bin, 'node'), [script], { encoding: 'utf8', env: { PATH: bin } });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('missing redis-server');
      expect(run.stderr).toContain('promtool');
      // sudo only where it is needed: a root shell (uid 0) on a minimal Debian has none.
      const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
      expect(run.stderr).toMatch(
        new RegExp(`  Install \\(Debian/Ubuntu\\): ${sudo}apt-get install -y --no-install-recommends redis-server( chromium)? prometheus`),
      );
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
