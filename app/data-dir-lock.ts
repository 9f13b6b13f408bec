import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from './private-redis-record.js';

/**
 * One `npm start`'s exclusive hold on its data directory for the life of its process: two
 * redis-servers with `--appendonly yes` on one directory corrupt its AOF, and two records of it
 * overwrite each other. The lock is taken before a port is chosen and the record is written only
 * under it, so there is no moment between "nobody runs here" and "I run here" for a second start.
 *
 * Node has no flock(2) without a native addon, so the lock is a file holding the holder's pid,
 * made by link(2) of a file already written: it fails atomically when the name exists (what
 * O_EXCL guarantees) and the lock is never seen empty. A lock whose pid is dead was left by a
 * SIGKILL (the OOM killer, a reboot) and is taken over by renaming it aside: rename(2) is atomic,
 * so of two starts taking over one dead lock, one renames it; the other renames either nothing or
 * the winner's new lock, which it tells by the pid inside, puts back, and refuses. A dead pid
 * reused by another program (after a reboot) keeps the lock taken: the refusal names the file
 * and the pid to check before removing it by hand. A lock held by the private redis-server's own
 * process would leave unguarded the moments before it listens, which is when two starts collide.
 */
export interface DataDirLock {
  readonly path: string;
  /** Removes the lock if it is still this process's. */
  release(): void;
}

export class DataDirLocked extends Error {
  constructor(
    readonly holder: number,
    readonly path: string,
  ) {
    super(`${path} is held by pid ${holder}`);
    this.name = 'DataDirLocked';
  }
}

export function lockDataDir(redisDir: string): DataDirLock {
  mkdirSync(redisDir, { recursive: true });
  const path = join(redisDir, 'npm-start.lock');
  const mine = `${path}.${process.pid}`;
  writeFileSync(mine, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(mine, path);
        return held(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readPid(path);
      if (holder === undefined) continue; // released meanwhile
      // Our own pid in a lock we never took: a container's pid 1 again, after a SIGKILL.
      if (holder > 0 && holder !== process.pid && isAlive(holder)) throw new DataDirLocked(holder, path);
      const aside = `${path}.dead.${process.pid}`;
      try {
        renameSync(path, aside);
      } catch {
        continue; // another start took it over first
      }
      if (readPid(aside) !== holder) {
        // Another start's fresh lock: give it back. link fails only if a third start got in first.
        try {
          linkSync(aside, path);
        } catch {
          // that third start holds it now
        }
      }
      unlinkSync(aside);
    }
    throw new Error(`could not take ${path}: other starts kept taking and leaving it`);
  } finally {
    unlinkSync(mine);
  }
}

function held(path: string): DataDirLock {
  const release = () => {
    try {
      if (readPid(path) === process.pid) unlinkSync(path);
    } catch {
      // gone already
    }
  };
  // Whatever way the process ends, bar a SIGKILL (then the next start finds the pid dead).
  process.once('exit', release);
  return {
    path,
    release() {
      process.off('exit', release);
      release();
    },
  };
}

/** The pid in the lock file; 0 for a file that holds none (nobody's), undefined when there is no file. */
function readPid(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : 0;
}
