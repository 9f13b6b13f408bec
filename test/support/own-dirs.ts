import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];
let isolated: { QG_DATA_DIR: string; QG_ENV_DIR: string } | undefined;
const removeMade = () => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  isolated = undefined;
};
// Imported while a test file is collected: its dirs go when the file's tests have run. Each file
// imports this module afresh (isolated), so each removes its own.
afterAll(removeMade);

/** A temporary directory removed after the test file that made it, however its tests ended. */
export function ownTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/**
 * The variables that keep a child of the tests off what the checkout's user runs: a data
 * directory of this process's own (never the checkout's .data, whose private redis-server a
 * running `npm start` uses) and an empty env-file directory (never /etc/quantum's live Redis).
 * Every `npm start` and CLI the tests run gets them unless a test names its own.
 */
export function isolatedEnv(): { QG_DATA_DIR: string; QG_ENV_DIR: string } {
  isolated ??= { QG_DATA_DIR: ownTempDir('qg-data-'), QG_ENV_DIR: ownTempDir('qg-no-env-') };
  return isolated;
}

/** What a gates process or CLI the tests start begins its environment with: HOME, PATH and isolatedEnv's directories. */
export function childBaseEnv(): { HOME: string; PATH: string; QG_DATA_DIR: string; QG_ENV_DIR: string } {
  return { HOME: process.env.HOME ?? '/tmp', PATH: process.env.PATH ?? '', ...isolatedEnv() };
}
