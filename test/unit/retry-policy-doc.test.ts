import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { retryPolicy } from '../../runtime/engine/retry-policy.js';

const architecture = readFileSync(resolve(import.meta.dirname, '../../docs/architecture.md'), 'utf8');
const section = architecture.slice(architecture.indexOf('## Retry policy'), architecture.indexOf('## Failure handling'));

describe('docs/architecture.md lists the retry policy', () => {
  it.each(Object.entries(retryPolicy))('names %s with its value', (name, value) => {
    const unit = name.endsWith('Ms') ? ' ms' : '';
    expect(section).toContain(`\`${name}\` = ${value}${unit}`);
  });
});
