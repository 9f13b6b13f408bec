import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ownTempDir } from '../support/own-dirs.js';

const root = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

/**
 * A checkout with no build, standing beside this one: its own bin/quantum-gates.js (the CLI finds its
 * checkout from its own path) and node_modules folder, linking to this checkout's sources, scripts and packages.
 */
function unbuiltCheckout(): string {
  const checkout = ownTempDir('qg-unbuilt-');
  mkdirSync(join(checkout, 'bin'));
  for (const name of readdirSync(join(root, 'bin'))) copyFileSync(join(root, 'bin', name), join(checkout, 'bin', name));
  for (const name of ['app', 'cli', 'runtime', 'handlers', 'schemas', 'domain', 'scripts', 'package.json'])
    symlinkSync(join(root, name), join(checkout, name));
  mkdirSync(join(checkout, 'node_modules'));
  for (const name of readdirSync(join(root, 'node_modules')))
    if (name !== '.cache') symlinkSync(join(root, 'node_modules', name), join(checkout, 'node_modules', name));
  return checkout;
}

describe('the CLI of a checkout whose sources have no build', () => {
  it('bundles them once into node_modules/.cache, never into the data directory of npm start’s private Redis', async () => {
    const checkout = unbuiltCheckout();
    const data = ownTempDir('qg-data-');
    const env = { HOME: process.env.HOME ?? '/tmp', PATH: process.env.PATH ?? '', QG_DATA_DIR: data };
    const { stdout } = await run(process.execPath, [join(checkout, 'bin/quantum-gates.js'), '--version'], { cwd: checkout, env });
    expect(stdout).toMatch(/\d+\.\d+\.\d+/);
    const cache = join(checkout, 'node_modules/.cache/quantum-gates/cli-build');
    const [bundle] = readdirSync(cache);
    expect(existsSync(join(cache, bundle!, 'cli/main.js'))).toBe(true);
    expect(existsSync(join(checkout, '.data'))).toBe(false);
    expect(readdirSync(data)).toEqual([]);
  }, 60_000);
});
