import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shellBlocks } from '../support/doc-blocks.js';

// Every command line of the docs runs as written in a checkout (issue #61): there `quantum-gates`
// is not on the PATH, `npx quantum-gates` is the checkout's CLI, and docs/operations.md says so
// once, at its top. The docs-run test runs README's and operations.md's blocks; this covers every
// document, the blocks it does not run included.
const root = resolve(import.meta.dirname, '../..');
const documents = ['README.md', ...readdirSync(join(root, 'docs'), { recursive: true }).map((f) => join('docs', String(f)))].filter((f) =>
  f.endsWith('.md'),
);

/** A command typed at a shell prompt: a line's first word, after any `VAR=value` settings. */
const BARE = /^\s*(?:[A-Z_][A-Z0-9_]*=\S*\s+)*quantum-gates(?:\s|$)/;

describe('command lines of the docs run as written in a checkout', () => {
  it.each(documents)('%s: no shell block line runs a bare quantum-gates', (doc) => {
    const bare = shellBlocks(readFileSync(join(root, doc), 'utf8')).flatMap((block) =>
      block.script
        .split('\n')
        .map((line, i) => ({ line: block.line + 1 + i, text: line }))
        .filter(({ text }) => BARE.test(text))
        .map(({ line, text }) => `${doc}:${line}: ${text.trim()}`),
    );
    expect(bare).toEqual([]);
  });

  it('docs/operations.md: no command with options in the text runs a bare quantum-gates', () => {
    // The prose only: a fence's backticks would pair the spans wrongly.
    const text = readFileSync(join(root, 'docs/operations.md'), 'utf8').replace(/^\s*```[^\n]*\n[\s\S]*?^\s*```\s*$/gm, '');
    const bare = [...text.matchAll(/`([^`]+)`/g)]
      .map((m) => m[1]!.replace(/\s+/g, ' '))
      .filter((code) => BARE.test(code) && / --?\w/.test(code));
    expect(bare).toEqual([]);
  });

  it('docs/operations.md says once, at its top, how the CLI is run in a checkout and on a server', () => {
    const text = readFileSync(join(root, 'docs/operations.md'), 'utf8');
    const top = text.slice(0, text.indexOf('\n## '));
    const sentence = 'Every command here runs as written in the project checkout';
    expect(text.split(sentence)).toHaveLength(2);
    expect(top).toContain(sentence);
    expect(top).toContain('`/opt/quantum-gates/current/bin/quantum-gates.js`');
  });
});
