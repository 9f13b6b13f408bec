import { execFile } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const source = resolve(import.meta.dirname, 'redis-clock-shim/redis-clock-shim.c');

/** A redis-server's wall clock, set off the host's by a test (redis-clock-shim/redis-clock-shim.c). */
export interface RedisClockShim {
  /** What the redis-server process needs in its environment to run on this clock (startTestRedis's serverEnv). */
  readonly serverEnv: Readonly<Record<string, string>>;
  /** From the server's next reading on, its clock is the host's plus `offsetMs` (either way): a step, as after a failover. */
  setOffsetMs(offsetMs: number): void;
  /** Deletes the shim and its offset file (after the server has stopped). */
  remove(): void;
}

/**
 * Compiles the shim with the machine's C compiler into a directory of its own, its offset 0;
 * without gcc it fails naming it (.ci/run installs gcc and libc6-dev).
 */
export async function buildRedisClockShim(): Promise<RedisClockShim> {
  const dir = mkdtempSync(join(tmpdir(), 'qg-redis-clock-'));
  const library = join(dir, 'redis-clock-shim.so');
  const offsetFile = join(dir, 'offset-ms');
  await new Promise<void>((resolvePromise, reject) =>
    execFile('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', '-o', library, source], (error, _stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT')
        reject(
          new Error(
            'gcc is not installed: this test compiles a clock shim for redis-server (apt-get install gcc libc6-dev, as .ci/run does)',
          ),
        );
      else if (error) reject(new Error(`gcc could not compile ${source}: ${stderr}`));
      else resolvePromise();
    }),
  ).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  const setOffsetMs = (offsetMs: number) => {
    // Written beside, then renamed over: the shim reads the file at every reading, and so never meets it half-written.
    const next = `${offsetFile}.next`;
    writeFileSync(next, `${Math.round(offsetMs)}\n`);
    renameSync(next, offsetFile);
  };
  setOffsetMs(0);
  return {
    serverEnv: { LD_PRELOAD: library, QG_REDIS_CLOCK_OFFSET_FILE: offsetFile },
    setOffsetMs,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
