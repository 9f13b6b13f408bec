import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

describe('the per-gate deployment', () => {
  it('starts an instance for every per-gate env file with quantum-gates.target', () => {
    const instances = readdirSync(resolve(root, 'deploy/env'))
      .map((f) => /^gates-(.+)\.env$/.exec(f)?.[1])
      .filter((gate): gate is string => gate !== undefined && gate !== 'common')
      .sort();
    const target = readFileSync(resolve(root, 'deploy/systemd/quantum-gates.target'), 'utf8');
    const wanted = [...target.matchAll(/quantum-gates@([\w-]+)\.service/g)].map((m) => m[1]).sort();
    expect(wanted).toEqual(instances);
  });

  it('installs the per-gate env files as the all-in-one file is: group qt reads them, only root writes', () => {
    const operations = readFileSync(resolve(root, 'docs/operations.md'), 'utf8');
    const installs = [...operations.matchAll(/^sudo install (.*) deploy\/env\/\S+/gm)].map((m) => m[1]);
    expect(installs.length).toBeGreaterThanOrEqual(2);
    for (const flags of installs) expect(flags).toBe('-m 640 -o root -g qt');
  });

  it('runs the gates with two malloc arenas, as `npm start` and the bench do: the RSS requirement was measured so', () => {
    for (const file of ['quantum-gates.service', 'quantum-gates@.service']) {
      const unit = readFileSync(resolve(root, 'deploy/systemd', file), 'utf8');
      expect(unit).toMatch(/^Environment=MALLOC_ARENA_MAX=2$/m);
    }
    for (const gate of readdirSync(resolve(root, 'deploy/env')).filter((f) => f.endsWith('.env')))
      expect(parseEnv(readFileSync(resolve(root, 'deploy/env', gate), 'utf8')).MALLOC_ARENA_MAX).toBeUndefined();
    const scripts = (JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.start).toContain('exec env MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} node ');
  });

  it("runs each instance with its node flags: the unit's default unless the gate's env file sets QG_NODE_FLAGS", () => {
    const unit = readFileSync(resolve(root, 'deploy/systemd/quantum-gates@.service'), 'utf8');
    expect(/^ExecStart=(.*)$/m.exec(unit)?.[1]).toBe(
      '/usr/bin/node --require /opt/quantum-gates/current/bin/node-version.cjs $QG_NODE_FLAGS /opt/quantum-gates/current/dist/app/main.js',
    );
    const fallback = /^Environment="QG_NODE_FLAGS=([^"]*)"$/m.exec(unit)?.[1];
    const env = (gate: string) => parseEnv(readFileSync(resolve(root, `deploy/env/gates-${gate}.env`), 'utf8'));
    // Shared by every instance that sets none: a flag there would reach the heat gate too.
    expect(env('common').QG_NODE_FLAGS).toBeUndefined();
    const flags = (gate: string) => env(gate).QG_NODE_FLAGS ?? fallback;
    // Every gate runs with the flags the RSS requirement was measured with (docs/performance.md).
    for (const gate of ['heat-gate', 'governor']) expect(flags(gate)).toBe('--max-semi-space-size=2 --heap-growing-percent=50');
    // Every instance's flags are options this node accepts (a typo would stop the unit at start).
    const gates = readdirSync(resolve(root, 'deploy/env')).flatMap((f) => /^gates-(.+)\.env$/.exec(f)?.[1] ?? []);
    for (const options of new Set(gates.map(flags)))
      expect(() =>
        execFileSync(process.execPath, [...(options ?? '').split(/\s+/).filter(Boolean), '-e', '0'], { stdio: 'pipe' }),
      ).not.toThrow();
  });
});
