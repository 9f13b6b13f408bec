import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildInfo, packageRoot, releaseName } from '../../app/build-info.js';
import { runtimeMetrics } from '../../runtime/engine/metrics.js';

const root = resolve(import.meta.dirname, '../..');

describe('build info', () => {
  it('exports quantum_gates_build_info{version,commit} 1', async () => {
    const registry = new Registry();
    runtimeMetrics(registry, { version: '1.2.3', commit: 'abc123def456' });

    expect(await registry.getSingleMetricAsString('quantum_gates_build_info')).toContain(
      'quantum_gates_build_info{version="1.2.3",commit="abc123def456"} 1',
    );
  });

  it('names the package version, and "source" for the commit when the sources run through tsx', () => {
    const { version } = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { version: string };

    expect(packageRoot()).toBe(root);
    expect(buildInfo()).toEqual({ version, commit: 'source' });
  });
});

describe('the release a build runs from', () => {
  it('is named from …/releases/<id>, reached through the current link; a checkout has none', () => {
    const base = mkdtempSync(join(tmpdir(), 'qg-release-'));
    try {
      mkdirSync(join(base, 'releases', '20261123T094500Z-1f53233abcde'), { recursive: true });
      symlinkSync('releases/20261123T094500Z-1f53233abcde', join(base, 'current'));
      expect(releaseName(join(base, 'current'))).toBe('20261123T094500Z-1f53233abcde');
      expect(releaseName(base)).toBeUndefined();
      expect(releaseName(join(base, 'missing'))).toBeUndefined();
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
