import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirLocked, lockDataDir } from '../../app/data-dir-lock.js';

describe("npm start's lock on its data directory", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'qg-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const lockFile = () => join(dir, 'npm-start.lock');

  it('is refused while a live process holds it, naming that pid and the file', async () => {
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(lockFile(), `${holder.pid}\n`);
      expect(() => lockDataDir(dir)).toThrow(DataDirLocked);
      expect(() => lockDataDir(dir)).toThrow(`${lockFile()} is held by pid ${holder.pid}`);
      expect(readFileSync(lockFile(), 'utf8')).toBe(`${holder.pid}\n`);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it("takes over a dead process's lock (a SIGKILLed npm start) and one holding no pid", () => {
    for (const left of [`${spawnSync('true').pid}\n`, 'garbage']) {
      writeFileSync(lockFile(), left);
      const lock = lockDataDir(dir);
      expect(readFileSync(lockFile(), 'utf8')).toBe(`${process.pid}\n`);
      lock.release();
      expect(existsSync(lockFile())).toBe(false);
    }
  });

  it('releases only a lock that is still its own', () => {
    const lock = lockDataDir(dir);
    writeFileSync(lockFile(), '12345\n'); // somebody removed ours by hand and another start took it
    lock.release();
    expect(readFileSync(lockFile(), 'utf8')).toBe('12345\n');
  });
});
