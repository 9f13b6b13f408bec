import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REDIS_COMMANDS } from '../../app/redis-commands.js';

/**
 * Issue #71 item 1: docs/operations.md lists every command the gates' account needs, as
 * app/redis-commands.ts (which the start-up check and `doctor` read) has them: the table
 * row for row, and the ACL line's rules, so an operator's ACL built from the docs is the one the
 * start accepts.
 */
const SECTION = "### What the gates' account needs";
const markdown = readFileSync(resolve(import.meta.dirname, '../../docs/operations.md'), 'utf8');
const start = markdown.indexOf(SECTION);
const section = markdown.slice(start, markdown.indexOf('\n### ', start + SECTION.length));

describe("docs/operations.md, what the gates' account needs", () => {
  it('has the section', () => {
    expect(start).toBeGreaterThan(0);
  });

  it('lists each command of the list, who needs it and why, and no other', () => {
    const rows = section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) =>
        line
          .slice(1, -1)
          .split(/(?<!\\)\|/)
          .map((cell) => cell.trim().replaceAll('\\|', '|')),
      );
    expect(rows).toEqual(
      REDIS_COMMANDS.map((need) => [`\`${need.command}\``, need.by === 'runtime' ? 'every process' : need.by.join(', '), need.why]),
    );
  });

  it('its ACL line allows exactly the list', () => {
    const line = section.split('\n').find((l) => l.startsWith('redis-cli ACL SETUSER'));
    const rules = (line ?? '').split(' ').filter((word) => word.startsWith('+'));
    expect(rules).toEqual(REDIS_COMMANDS.map((need) => `+${need.command}`));
  });
});
