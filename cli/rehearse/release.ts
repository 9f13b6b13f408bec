import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AnyHandler } from '../../runtime/host/index.js';
import { buildInfo, READ_TAPE_VERSIONS } from '../../app/cli-door.js';
import { rehearseBatch, rehearsedGate } from './rehearse-record.js';

/** Why a release could not be rehearsed (exit 2). */
export class ReleaseNotLoadable extends Error {}

export interface RehearsedRelease {
  /** The release directory's name and build, or "this checkout". */
  readonly name: string;
  readonly handlers: readonly AnyHandler[];
  /** The release's own runtime side of a rehearsal: its engine decides, its recorder records. */
  readonly rehearseBatch: typeof rehearseBatch;
  readonly rehearsedGate: typeof rehearsedGate;
  /** The tape versions the release reads: a record of any other is not rehearsed. */
  readonly readVersions: ReadonlySet<number>;
}

/** What a release's dist/handlers/index.js exports (cli/rehearse/release-entry.ts). */
type ReleaseEntry = Partial<Pick<RehearsedRelease, 'rehearseBatch' | 'rehearsedGate'>> & {
  readonly allHandlers?: readonly AnyHandler[];
  readonly READ_TAPE_VERSIONS?: ReadonlySet<number>;
};

/**
 * A release's gates and runtime: `.` is the code this command runs (this checkout, or the release
 * it was run from); a directory release.sh made has them as dist/handlers/index.js, its own
 * compiled handlers with their own schemas, settings parsers and scripts, and its own engine.
 */
export async function loadRelease(where: string): Promise<RehearsedRelease> {
  if (where === '.') {
    const built = buildRoot(dirname(fileURLToPath(import.meta.url)));
    if (built !== undefined) refuseStaleBuild(built);
    const { allHandlers } = await import('../../handlers/index.js');
    const build = buildInfo();
    return {
      name: `this checkout (${build.version}, ${build.commit})`,
      handlers: allHandlers,
      rehearseBatch,
      rehearsedGate,
      readVersions: READ_TAPE_VERSIONS,
    };
  }
  const dir = resolve(where);
  const entry = join(dir, 'dist', 'handlers', 'index.js');
  if (!existsSync(entry))
    throw new ReleaseNotLoadable(
      existsSync(join(dir, 'dist'))
        ? `${dir} has no dist/handlers/index.js: it was built before releases could be rehearsed`
        : `${dir} is not a release directory (no dist/: see release.sh install)`,
    );
  refuseStaleBuild(dir);
  const loaded = (await import(pathToFileURL(entry).href)) as ReleaseEntry;
  if (!Array.isArray(loaded.allHandlers)) throw new ReleaseNotLoadable(`${entry} exports no allHandlers`);
  // Its gates in this CLI's engine would rehearse another runtime than the one the release runs.
  if (
    typeof loaded.rehearseBatch !== 'function' ||
    typeof loaded.rehearsedGate !== 'function' ||
    !(loaded.READ_TAPE_VERSIONS instanceof Set)
  )
    throw new ReleaseNotLoadable(
      `${entry} was built before a rehearsal ran a release's own runtime: rehearse it with its own CLI (${join(dir, 'bin/quantum-gates.js')} rehearse .)`,
    );
  const stamp = join(dir, 'dist', 'build-info.json');
  const build = existsSync(stamp) ? (JSON.parse(readFileSync(stamp, 'utf8')) as { version?: string; commit?: string }) : {};
  return {
    name: `${basename(dir)} (${build.version ?? '?'}, ${build.commit ?? '?'})`,
    handlers: loaded.allHandlers,
    rehearseBatch: loaded.rehearseBatch,
    rehearsedGate: loaded.rehearsedGate,
    readVersions: loaded.READ_TAPE_VERSIONS,
  };
}

/**
 * The root of the build this module runs from, if it runs from one: dist/cli/rehearse/release.js
 * (tsc's layout) or dist/chunks/*.js and dist/cli/main.js (the bundle's: every module one folder
 * below dist/). Undefined from the sources or from the CLI's build cache, made from the sources as they are.
 */
export function buildRoot(here: string): string | undefined {
  for (const up of ['..', '../..']) if (basename(resolve(here, up)) === 'dist') return resolve(here, up, '..');
  return undefined;
}

/** The folders whose sources a build compiles into dist/ (a release directory holds them: release.sh builds in it). */
const SOURCE_DIRS = ['handlers', 'runtime', 'schemas', 'domain', 'app', 'cli'];

/** The first source file under `dir` changed after `builtAt` (ms), if any. */
function newerSource(dir: string, builtAt: number): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = newerSource(path, builtAt);
      if (found !== undefined) return found;
    } else if (/\.(ts|lua)$/.test(entry.name) && !entry.name.endsWith('.d.ts') && statSync(path).mtimeMs > builtAt) return path;
  }
  return undefined;
}

/** A dist/ older than the sources beside it would rehearse other code than the release's: refused, naming a newer file. */
function refuseStaleBuild(root: string): void {
  const entry = join(root, 'dist', 'handlers', 'index.js');
  if (!existsSync(entry)) return;
  const builtAt = statSync(entry).mtimeMs;
  for (const sources of SOURCE_DIRS) {
    const newer = newerSource(join(root, sources), builtAt);
    if (newer !== undefined)
      throw new ReleaseNotLoadable(
        `${root}'s build (dist/) is older than its sources (${relative(root, newer)} changed since): run npm run build there first`,
      );
  }
}
