import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
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
});
