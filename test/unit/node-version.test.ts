import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
// CommonJS in the oldest syntax, so that any Node parses it: loaded as the entry points load it.
const { refusal, needed } = createRequire(import.meta.url)('../../bin/node-version.cjs') as {
  refusal(needed: string, found: string, path: string): string | undefined;
  needed(): string;
};

describe('the Node version check every entry point runs first', () => {
  it("reads package.json's engines, in the one form it understands (>=X.Y.Z): another form would refuse nothing", () => {
    const { engines } = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { engines: { node: string } };

    expect(needed()).toBe(engines.node);
    expect(engines.node).toMatch(/^>=\d+\.\d+\.\d+$/);
  });

  it('refuses an older Node in one line naming the version needed, the one found and its path', () => {
    expect(refusal('>=20.19.0', '18.20.8', '/opt/node18/bin/node')).toBe(
      'quantum-gates: needs Node >=20.19.0 (package.json "engines"), found Node 18.20.8 at /opt/node18/bin/node: ' +
        'install Node 20.19.0 or newer, or put it first on the PATH',
    );
    expect(refusal('>=20.19.0', '20.18.3', '/usr/bin/node')).toContain('found Node 20.18.3 at /usr/bin/node');
    expect(refusal('>=20.19.0', '20.19.0-pre', '/usr/bin/node')).toBeUndefined();
  });

  it('lets the version needed and every newer one run, and this Node', () => {
    for (const found of ['20.19.0', '20.19.1', '20.20.0', '22.0.0', '24.11.1']) expect(refusal('>=20.19.0', found, 'node')).toBeUndefined();
    expect(refusal(needed(), process.versions.node, process.execPath)).toBeUndefined();
  });

  it('refuses nothing for a range it cannot read', () => {
    expect(refusal('^20.19.0 || >=22.12.0', '18.20.8', 'node')).toBeUndefined();
  });
});
