import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildInfo, packageRoot } from '../../runtime/build-info.js';
import { runtimeMetrics } from '../../runtime/metrics.js';

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
