import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { handlerQueueNames } from '../../app/http/dashboard.js';
import { allHandlers } from '../../handlers/index.js';

const operations = readFileSync(resolve(import.meta.dirname, '../../docs/operations.md'), 'utf8');

describe('docs/operations.md §2, the BullMQ dashboard', () => {
  it('names every queue the board shows (those of the gates), and no other', () => {
    const bullet = /^- \*\*BullMQ dashboard\*\*:[\s\S]*?(?=\n- \*\*|\n\n)/m.exec(operations)?.[0];
    expect(bullet).toBeDefined();
    const said = bullet!.slice(bullet!.indexOf('It shows the')).split('.')[0]!;
    const named = [...said.matchAll(/`([a-z][a-z-]+)`/g)].map((m) => m[1]!);
    expect(named.sort()).toEqual(handlerQueueNames(allHandlers).sort());
  });
});
