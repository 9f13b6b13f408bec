import { mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from './build-info.js';
import { isListening, localProbe } from './local-redis.js';

/**
 * What `npm start` records of the private redis-server it runs: its port, kept across restarts so
 * the CLI and a bookmark keep finding it, and the pid of the process running it now. The CLI of the
 * same checkout reads it, but trusts its port only once the Redis there proves to be this data
 * directory's (privateRedisAnswers): a pid outlives nothing reliably (SIGKILL, a reboot, reuse).
 */
export interface PrivateRedisRecord {
  readonly port: number;
  /** The gates' process that runs it; absent once that process stopped. */
  readonly pid?: number;
  /** Where that process serves /status (its listen address), once it listens: `quantum-gates status` asks there. */
  readonly gates?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The data directory of `npm start` and of its CLI: $QG_DATA_DIR, else the checkout's `.data`.
 * A parameter, so the tests (and a second copy of the gates) keep their data apart from the
 * checkout's running `npm start`.
 */
export function dataDir(env: Env): string {
  return resolve(env.QG_DATA_DIR?.trim() || join(packageRoot(), '.data'));
}

/** Where the private redis-server keeps its files (AOF, log), its record and the lock on them. */
export function privateRedisDir(env: Env): string {
  return join(dataDir(env), 'redis');
}

function recordPath(redisDir: string): string {
  return join(redisDir, 'private-redis.json');
}

export function readPrivateRedisRecord(redisDir: string): PrivateRedisRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(recordPath(redisDir), 'utf8')) as Partial<PrivateRedisRecord>;
    if (typeof parsed.port !== 'number' || !Number.isInteger(parsed.port) || parsed.port < 1 || parsed.port > 65535) return undefined;
    if (typeof parsed.pid !== 'number') return { port: parsed.port };
    return typeof parsed.gates === 'string'
      ? { port: parsed.port, pid: parsed.pid, gates: parsed.gates }
      : { port: parsed.port, pid: parsed.pid };
  } catch {
    return undefined;
  }
}

/** Written whole under a temporary name, then renamed: a reader never sees half a record. Only under the data directory's lock. */
export function writePrivateRedisRecord(redisDir: string, record: PrivateRedisRecord): void {
  mkdirSync(redisDir, { recursive: true });
  const temporary = `${recordPath(redisDir)}.${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify(record)}\n`);
  renameSync(temporary, recordPath(redisDir));
}

/** The record's gates' process is alive (it may have left its server, or a reused pid may be another program). */
export function isRunning(record: PrivateRedisRecord): boolean {
  return record.pid !== undefined && isAlive(record.pid);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * What answers on 127.0.0.1:`port`: this data directory's private redis-server (its `CONFIG GET
 * dir` is `redisDir`), another Redis or program, or nothing. The one proof that a port recorded
 * earlier still leads to this checkout's data, whatever happened to the process that recorded it.
 */
export async function privateRedisAnswers(redisDir: string, port: number): Promise<'ours' | 'other' | 'none'> {
  if (!(await isListening('127.0.0.1', port))) return 'none';
  const probe = localProbe(port);
  try {
    await probe.connect();
    const [, dir] = (await probe.config('GET', 'dir')) as [string, string];
    return realpathSync(dir) === realpathSync(redisDir) ? 'ours' : 'other';
  } catch {
    return 'other';
  } finally {
    probe.disconnect();
  }
}

/**
 * The address at which to ask the gates of the `npm start` that holds this data directory now,
 * as it recorded it; undefined when none runs (its pid gone) or it has not listened yet. A
 * wildcard listen address (HOST=0.0.0.0 or ::) is asked on the loopback interface.
 */
export function recordedGatesUrl(redisDir: string): string | undefined {
  const record = readPrivateRedisRecord(redisDir);
  if (record?.gates === undefined || !isRunning(record)) return undefined;
  try {
    const url = new URL(record.gates);
    if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = '127.0.0.1';
    return url.origin;
  } catch {
    return undefined;
  }
}
