import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const unitText = () => readFileSync(resolve(root, 'deploy/systemd/quantum-gates.service'), 'utf8');

/**
 * The node options of the unit's ExecStart (the version check, --max-semi-space-size=2
 * --heap-growing-percent=50), its paths under the release directory made this checkout's: a
 * process the tests start runs as in production.
 */
export function unitNodeOptions(): string[] {
  const execStart = /^ExecStart=(.*)$/m.exec(unitText())?.[1]?.split(/\s+/) ?? [];
  if (execStart.at(-1) !== '/opt/quantum-gates/current/dist/app/main.js')
    throw new Error(`deploy/systemd/quantum-gates.service: ExecStart no longer ends in the release's dist/app/main.js`);
  return execStart.slice(1, -1).map((arg) => arg.replace('/opt/quantum-gates/current/', `${root}/`));
}

/** The unit's MALLOC_ARENA_MAX (glibc's malloc arenas, part of the process's RSS). */
export function unitMallocArenas(): { MALLOC_ARENA_MAX: string } {
  const arenas = /^Environment=MALLOC_ARENA_MAX=(\d+)$/m.exec(unitText())?.[1];
  if (arenas === undefined) throw new Error('deploy/systemd/quantum-gates.service: no Environment=MALLOC_ARENA_MAX');
  return { MALLOC_ARENA_MAX: arenas };
}
