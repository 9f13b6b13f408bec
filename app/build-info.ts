import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  readonly version: string;
  /** The git commit `npm run build` compiled, or "source" when the TypeScript runs through tsx. */
  readonly commit: string;
  /** The rehearsal release.sh ran before switching to this release, if any (quantum-gates rehearse --record). */
  readonly rehearsal?: ReleaseRehearsal;
}

/** A release's rehearsal on the running gates' tape, and whether its differences were accepted. */
export interface ReleaseRehearsal {
  readonly at: number;
  readonly release?: string;
  readonly decisions?: number;
  readonly same?: number;
  readonly differ?: number;
  /** Of `differ`: decisions whose verdict changed, and those that differ only in other fields (records before 1.0.0's split lack them). */
  readonly verdicts?: number;
  readonly others?: number;
  readonly unanswerable?: number;
  /** Taped decisions not rehearsed (another tape version, entries that do not decode, reads never taped, a gate the release lacks). */
  readonly not_rehearsed?: number;
  /** Why it could not run (and the switch went ahead only because it was accepted). */
  readonly could_not_run?: string;
  /** `scope`: 'all' (--accept-differences: whatever the rehearsal found or could not run), 'other' (differences in other fields only). */
  readonly accepted: { readonly reason: string; readonly by: string; readonly at: number; readonly scope?: 'all' | 'other' } | null;
}

/** A release's rehearsal.json (in its root, beside package.json), or undefined: none, or unreadable. */
export function releaseRehearsal(root: string): ReleaseRehearsal | undefined {
  try {
    const record = JSON.parse(readFileSync(join(root, 'rehearsal.json'), 'utf8')) as ReleaseRehearsal;
    return typeof record.at === 'number' ? record : undefined;
  } catch {
    return undefined;
  }
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The project's root (where package.json is), whether this module runs from the sources
 * (runtime/) or from the build, bundled into a file of dist/app/, dist/cli/ or dist/chunks/.
 */
export function packageRoot(): string {
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return dirname(here);
  }
}

/**
 * What is running: `npm run build` writes dist/build-info.json, one folder above every bundled
 * file, so a build names the commit it came from; the sources name the package version only.
 * Read at each call (a process asks once or twice: its metrics, its status page, the CLI's version).
 */
export function buildInfo(): BuildInfo {
  const stamped = join(here, '..', 'build-info.json');
  const built: BuildInfo = existsSync(stamped)
    ? (JSON.parse(readFileSync(stamped, 'utf8')) as BuildInfo)
    : { version: (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version, commit: 'source' };
  const rehearsal = releaseRehearsal(packageRoot());
  return rehearsal ? { ...built, rehearsal } : built;
}

/**
 * The release this code runs from when it was installed by scripts/release.sh
 * (…/releases/<time>-<commit>, reached through the `current` link), else undefined.
 */
export function releaseName(root: string = packageRoot()): string | undefined {
  try {
    const real = realpathSync(root);
    return basename(dirname(real)) === 'releases' ? basename(real) : undefined;
  } catch {
    return undefined;
  }
}
