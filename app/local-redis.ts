import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { REDIS_PROTOCOL, systemClock, type Clock } from '../runtime/host/index.js';

/** True when something accepts TCP connections on host:port within timeoutMs. */
export function isListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host, port });
    const finish = (result: boolean) => {
      socket.destroy();
      resolvePromise(result);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** A connection to a Redis on this machine that tries once and never reconnects: a probe must not hang. */
export function localProbe(port: number): Redis {
  const probe = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: () => null,
    protocol: REDIS_PROTOCOL,
  });
  probe.on('error', () => undefined);
  return probe;
}

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface LocalRedis {
  readonly url: string;
  readonly dataDir: string;
  readonly pid: number | undefined;
  /** Settles when the server exits, by stop() or not (its exit code, null after a signal). */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Starts a private redis-server for `npm start` on a machine with none running. Data lives in
 * `dataDir` (the checkout's .data/redis, git-ignored, unless QG_DATA_DIR names another) with AOF
 * on, so a restart keeps the streams.
 */
export async function startLocalRedis(dataDir: string, port = 6379, clock: Clock = systemClock): Promise<LocalRedis> {
  mkdirSync(dataDir, { recursive: true });
  const child: ChildProcess = spawn(
    'redis-server',
    // Keyspace events for the position book's key watch (runtime/host/key-watch.ts, docs/operations.md).
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dataDir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--logfile',
      'redis.log',
      '--notify-keyspace-events',
      'KA',
    ],
    // Its own process group: Ctrl-C in a terminal signals the whole foreground group, and the
    // server must outlive the drain that SIGINT starts (the runtime stops it afterwards).
    { stdio: 'ignore', detached: true },
  );
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  for (let i = 0; i < 100; i++) {
    if (await isListening('127.0.0.1', port, 200)) {
      return {
        url: `redis://127.0.0.1:${port}`,
        dataDir,
        pid: child.pid,
        exited,
        async stop() {
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
    if (child.exitCode !== null) break;
    await clock.sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not start on 127.0.0.1:${port}; see ${dataDir}/redis.log`);
}
