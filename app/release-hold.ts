import { openSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './build-info.js';

/**
 * Keeps the package.json of the release this process runs from open for the process's life: its
 * descriptor (/proc/PID/fd/N) names that release as resolved at start, so scripts/release.sh
 * knows which releases run whatever the working directory, and the process writes nowhere (the
 * units give it a read-only file system). Never closed on purpose.
 */
export function holdRelease(root: string = packageRoot()): void {
  try {
    openSync(join(root, 'package.json'), 'r');
  } catch {
    // No package.json: this process only goes unseen by release.sh, which then keeps its releases by cwd.
  }
}
