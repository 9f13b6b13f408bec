import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// docs/writing-a-gate.md cannot drift from the code: every ```ts block is a quote of a real
// source file, and its member sections are the members of HandlerDeclaration, in order.
const root = resolve(import.meta.dirname, '../..');
const guide = readFileSync(resolve(root, 'docs/writing-a-gate.md'), 'utf8');

/** A line of a ```ts block that marks a gap in the quote. */
const GAP = '// ...';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules' || name.startsWith('.')) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const sources = ['docs', 'handlers', 'runtime', 'schemas', 'domain', 'test'].flatMap((dir) =>
  sourceFiles(resolve(root, dir)).map((path) => ({ name: relative(root, path), lines: readFileSync(path, 'utf8').split('\n') })),
);

/** The ```ts blocks of the guide, with the line each starts on. */
function tsBlocks(markdown: string): { line: number; body: string[] }[] {
  const lines = markdown.split('\n');
  const blocks: { line: number; body: string[] }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!);
    blocks.push({ line: start + 1, body });
  }
  return blocks;
}

/** The block's pieces between gap lines. */
function pieces(body: readonly string[]): string[][] {
  const result: string[][] = [[]];
  for (const line of body) {
    if (line.trim() === GAP) result.push([]);
    else result[result.length - 1]!.push(line);
  }
  return result.filter((piece) => piece.length > 0);
}

/**
 * Where `piece` occurs in `lines` at or after `from`, indented by the same whitespace throughout
 * (a quote may leave out the indentation its context had); the index after it, or -1.
 */
function findPiece(lines: readonly string[], piece: readonly string[], from: number): number {
  for (let i = from; i + piece.length <= lines.length; i++) {
    const first = lines[i]!;
    if (!first.endsWith(piece[0]!)) continue;
    const pad = first.slice(0, first.length - piece[0]!.length);
    if (pad.trim() !== '') continue;
    if (piece.every((line, k) => (line === '' ? lines[i + k]!.trim() === '' : lines[i + k] === pad + line))) return i + piece.length;
  }
  return -1;
}

/** The source file that holds every piece of the block, in order; undefined when none does. */
function quotedFrom(body: readonly string[]): string | undefined {
  const parts = pieces(body);
  return sources.find(({ lines }) => {
    let at = 0;
    for (const piece of parts) {
      at = findPiece(lines, piece, at);
      if (at < 0) return false;
    }
    return true;
  })?.name;
}

/** HandlerDeclaration's members, in the order of the type. */
function declarationMembers(): string[] {
  const source = readFileSync(resolve(root, 'runtime/contract/handler.ts'), 'utf8');
  const start = source.indexOf('export interface HandlerDeclaration<');
  const body = source.slice(start, source.indexOf('\n}\n', start));
  return [...body.matchAll(/^ {2}(?:readonly )?(\w+)\??[:(<]/gm)].map((m) => m[1]!);
}

/** The numbered member sections: `## 3. \`trigger\``. Later sections of other kinds are not members. */
function memberSections(markdown: string): { number: number; member: string; text: string }[] {
  const headings = [...markdown.matchAll(/^## (\d+)\. `(\w+)`$/gm)];
  return headings.map((heading) => {
    const from = heading.index + heading[0].length;
    const next = markdown.indexOf('\n## ', from);
    return { number: Number(heading[1]), member: heading[2]!, text: markdown.slice(from, next < 0 ? undefined : next) };
  });
}

describe('docs/writing-a-gate.md', () => {
  const blocks = tsBlocks(guide);

  it('has code blocks to check', () => {
    expect(blocks.length).toBeGreaterThan(10);
  });

  it.each(blocks.map((block) => [block.line, block] as const))('the ```ts block at line %i quotes a real source file', (_line, block) => {
    expect(quotedFrom(block.body)).toBeDefined();
  });

  it('has one section per member of HandlerDeclaration, numbered from 1, in the order of the type', () => {
    const members = declarationMembers();
    expect(members).toEqual([
      'name',
      'description',
      'trigger',
      'input',
      'config',
      'metrics',
      'mode',
      'batch',
      'own',
      'http',
      'failure',
      'idempotency',
      'startLine',
      'keyWatch',
      'handle',
    ]);
    const sections = memberSections(guide);
    expect(sections.map((s) => s.member)).toEqual(members);
    expect(sections.map((s) => s.number)).toEqual(members.map((_, i) => i + 1));
  });

  it.each(memberSections(guide).map((s) => [s.member, s] as const))('the `%s` section shows an example', (_member, section) => {
    expect(section.text).toContain('```ts');
  });

  it('finds a quote and refuses an invention', () => {
    expect(quotedFrom(["  name: 'spread-guard',"])).toBe('docs/examples/spread-guard.ts');
    expect(quotedFrom(["  name: 'spread-guard',", GAP, '  input: orderIntentSchema,'])).toBe('docs/examples/spread-guard.ts');
    // Out of order, or not in the file at all.
    expect(quotedFrom(['  input: orderIntentSchema,', GAP, "  name: 'spread-guard',"])).toBeUndefined();
    expect(quotedFrom(["  name: 'spread-guard', // renamed"])).toBeUndefined();
  });
});
