import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * What `npm start` records of the private redis-server it runs: its port, kept across restarts so
 * the CLI and a bookmark keep finding it, and the pid of the process running it now. The CLI of the
 * same checkout reads it: a Redis that `npm start` chose is one something named.
 */
export interface PrivateRedisRecord {
  readonly port: number;
  /** The gates' process that runs it; absent once that process stopped. */
  readonly pid?: number;
}

export function privateRedisDir(projectRoot: string): string {
  return resolve(projectRoot, '.data', 'redis');
}

function recordPath(projectRoot: string): string {
  return join(privateRedisDir(projectRoot), 'private-redis.json');
}

export function readPrivateRedisRecord(projectRoot: string): PrivateRedisRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(recordPath(projectRoot), 'utf8')) as Partial<PrivateRedisRecord>;
    if (typeof parsed.port !== 'number' || !Number.isInteger(parsed.port) || parsed.port < 1 || parsed.port > 65535) return undefined;
    return typeof parsed.pid === 'number' ? { port: parsed.port, pid: parsed.pid } : { port: parsed.port };
  } catch {
    return undefined;
  }
}

export function writePrivateRedisRecord(projectRoot: string, record: PrivateRedisRecord): void {
  mkdirSync(privateRedisDir(projectRoot), { recursive: true });
  writeFileSync(recordPath(projectRoot), `${JSON.stringify(record)}\n`);
}

/** The record's private redis-server is running now: the gates' process that started it is alive. */
export function isRunning(record: PrivateRedisRecord): boolean {
  if (record.pid === undefined) return false;
  try {
    process.kill(record.pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
