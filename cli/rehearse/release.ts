import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyHandler } from '../../runtime/host/index.js';
import { buildInfo } from '../../app/cli-door.js';

/** Why a release could not be rehearsed (exit 2). */
export class ReleaseNotLoadable extends Error {}

export interface RehearsedRelease {
  /** The release directory's name and build, or "this checkout". */
  readonly name: string;
  readonly handlers: readonly AnyHandler[];
}

/**
 * A release's gate declarations: `.` is the code this command runs (this checkout, or the release
 * it was run from); a directory release.sh made has them as dist/handlers/index.js, its own
 * compiled handlers with their own schemas, settings parsers and scripts.
 */
export async function loadRelease(where: string): Promise<RehearsedRelease> {
  if (where === '.') {
    const { allHandlers } = await import('../../handlers/index.js');
    const build = buildInfo();
    return { name: `this checkout (${build.version}, ${build.commit})`, handlers: allHandlers };
  }
  const dir = resolve(where);
  const entry = join(dir, 'dist', 'handlers', 'index.js');
  if (!existsSync(entry))
    throw new ReleaseNotLoadable(
      existsSync(join(dir, 'dist'))
        ? `${dir} has no dist/handlers/index.js: it was built before releases could be rehearsed`
        : `${dir} is not a release directory (no dist/: see release.sh install)`,
    );
  const loaded = (await import(pathToFileURL(entry).href)) as { allHandlers?: readonly AnyHandler[] };
  if (!Array.isArray(loaded.allHandlers)) throw new ReleaseNotLoadable(`${entry} exports no allHandlers`);
  const stamp = join(dir, 'dist', 'build-info.json');
  const build = existsSync(stamp) ? (JSON.parse(readFileSync(stamp, 'utf8')) as { version?: string; commit?: string }) : {};
  return { name: `${basename(dir)} (${build.version ?? '?'}, ${build.commit ?? '?'})`, handlers: loaded.allHandlers };
}
