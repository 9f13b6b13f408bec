import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const { version } = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { version: string };
const changelog = readFileSync(resolve(root, 'CHANGELOG.md'), 'utf8');
/** "## 1.0.0 (2026-11-26): ..." → each version's heading and its text up to the next; "## Unreleased" (what the next release will hold) aside. */
const sections = changelog
  .split(/^(?=## )/m)
  .slice(1)
  .map((text) => ({ heading: text.split('\n', 1)[0]!, text }))
  .filter((s) => !s.heading.startsWith('## Unreleased'));

describe('CHANGELOG.md, one section per version', () => {
  it("opens with package.json's version: a change that alters behaviour bumps both", () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(sections[0]?.heading).toMatch(new RegExp(`^## ${version.replaceAll('.', '\\.')} \\(`));
  });

  it('dates every version, names each once, newest first, and says what an upgrade to it asks of the operator', () => {
    const versions = sections.map((s) => /^## (\d+\.\d+\.\d+) \((\d{4}-\d\d-\d\d)/.exec(s.heading));
    expect(versions.every((m) => m !== null)).toBe(true);
    const numbers = versions.map((m) => m![1]!);
    expect(new Set(numbers).size).toBe(numbers.length);
    const order = (v: string) =>
      v
        .split('.')
        .map(Number)
        .reduce((n, part) => n * 1000 + part, 0);
    expect(numbers.map(order)).toEqual([...numbers.map(order)].sort((a, b) => b - a));
    for (const s of sections) expect(s.text, s.heading).toMatch(/To upgrade/);
  });
});
