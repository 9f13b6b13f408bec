import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  COMPOSED,
  COMPOSED_HEADER,
  FAMILIES,
  TABLE_FAMILIES,
  TABLE_HEADER,
  composedTableOf,
  familiesOf,
  familyName,
  tableOf,
  type Gate,
} from '../support/single-faults.js';

/**
 * Issue #59 item 5: each gate's doc publishes, in "Inputs and how they can be wrong", what every
 * input wrong in every way makes it do. The rows must be the families the generated property
 * (test/integration/single-fault-property.test.ts) draws its faults from, with the same decision,
 * reason and place an operator sees it, both ways: no family without its row, no row without its
 * family, so the contract and the property cannot drift apart.
 */

const SECTION = '## Inputs and how they can be wrong';
const COMPOSED_SECTION = '## Faults that compose';

/** The section's table: its header and rows as trimmed cells. */
function tableIn(doc: string, section = SECTION): { header: string[]; rows: string[][] } {
  const markdown = readFileSync(resolve(import.meta.dirname, '../../docs', doc), 'utf8');
  const start = markdown.indexOf(section);
  if (start < 0) throw new Error(`${doc} has no "${section}" section`);
  const end = markdown.indexOf('\n## ', start + section.length);
  const lines = markdown
    .slice(start, end < 0 ? undefined : end)
    .split('\n')
    .filter((line) => line.startsWith('|'));
  const cells = (line: string) =>
    line
      .slice(1, line.trimEnd().endsWith('|') ? line.trimEnd().length - 1 : undefined)
      .split('|')
      .map((c) => c.trim());
  const [header = '', , ...rows] = lines;
  return { header: cells(header), rows: rows.map(cells) };
}

const gates: [Gate, string][] = [
  ['governor', 'governor.md'],
  ['heat-gate', 'heat-gate.md'],
];

describe.each(gates)('docs: the %s table of inputs and how they can be wrong is the families of the property', (gate, doc) => {
  const { header, rows } = tableIn(doc);
  const expected = tableOf(gate);
  const byFamily = new Map(rows.map((row) => [row[0]!, row]));

  it('has the columns', () => {
    expect(header).toEqual([...TABLE_HEADER]);
  });

  it.each(expected.map((row) => [row[0]!, row] as const))('lists %s with its decision, reason and where it is seen', (family, row) => {
    expect(byFamily.get(family), `${doc} has no row for ${family}`).toEqual(row);
  });

  it('lists no family the property does not generate, and none twice', () => {
    const known = new Set(familiesOf(gate).map((f) => `\`${familyName(f)}\``));
    expect(rows.map((row) => row[0]!).filter((family) => !known.has(family))).toEqual([]);
    expect(byFamily.size).toBe(rows.length);
  });
});

describe.each(gates)('docs: the %s table of faults that compose is COMPOSED, each row held by its named test', (gate, doc) => {
  const { header, rows } = tableIn(doc, COMPOSED_SECTION);

  it('has the columns and the rows, in order', () => {
    expect(header).toEqual([...COMPOSED_HEADER]);
    expect(rows).toEqual(composedTableOf(gate));
  });

  it.each(COMPOSED.filter((c) => c.gate === gate).map((c) => [c.test, c] as const))(
    '%s exists and names families of the tables',
    (test, c) => {
      const [file, ...name] = test.split(' ');
      const source = readFileSync(resolve(import.meta.dirname, '../..', file!), 'utf8');
      expect(source).toContain(`it('${name.join(' ').replace(/^"|"$/g, '')}`);
      const known = new Set(FAMILIES.map(familyName));
      for (const f of c.faults) expect(known, f).toContain(f);
    },
  );
});

describe('the families', () => {
  it('each belongs to at least one gate’s table, and none is listed twice', () => {
    const names = TABLE_FAMILIES.map(familyName);
    expect(new Set(names).size).toBe(names.length);
    for (const f of TABLE_FAMILIES) expect(f.governor ?? f.heat, familyName(f)).toBeDefined();
  });
});
