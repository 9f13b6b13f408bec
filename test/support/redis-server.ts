import { afterAll, beforeAll, beforeEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { isListening } from '../../app/local-redis.js';
import { REDIS_PROTOCOL } from '../../runtime/host/redis.js';

/** Asks the OS for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A loopback port nothing listens on, for a test of what a client says when refused: below both
 * ranges the suites draw their listeners from (freePort's ephemeral range, freePortBelowEphemeral's
 * 10000 up), so a suite running beside cannot start a server there between the choice and the
 * connection (freePort's port was once taken so, and a CLI met an HTTP 404 where it expected
 * ECONNREFUSED).
 */
export async function refusedPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 1024 + Math.floor(Math.random() * (10_000 - 1024));
    if (await listens(port)) return port;
  }
  throw new Error('no free loopback port between 1024 and 10000');
}

/**
 * A free loopback port below the kernel's ephemeral range (net.ipv4.ip_local_port_range, from 32768
 * by default), for a server that listens a while after its port is chosen: the local port of an
 * outgoing connection and a port-0 listener (freePort) are both drawn from that range, and one took
 * a port chosen so while a suite beside it connected (docs-run's per-gate units: EADDRINUSE).
 */
export async function freePortBelowEphemeral(): Promise<number> {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (await listens(port)) return port;
  }
  throw new Error(`no free loopback port between 10000 and ${low}`);
}

/** Whether a listener can take `port` on 127.0.0.1 now (closed again at once). */
function listens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** A plain client for arranging and asserting; closed by stop(). */
  readonly client: Redis;
  /**
   * Stops the server (SIGTERM, or SIGKILL with hard) and starts it again on the same port, after
   * downMs, or once `downUntil` holds (polled; what a test must see while Redis is down, so a busy
   * machine cannot bring Redis back before the runtime noticed it gone).
   */
  restart(options?: { downMs?: number; hard?: boolean; downUntil?: () => Promise<boolean> }): Promise<void>;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface TestRedisOptions {
  /** Turn AOF on (for tests that restart the server and expect data to survive). */
  readonly appendOnly?: boolean;
  readonly extraArgs?: readonly string[];
  /** Start with --requirepass; the fixture's own client and probe authenticate with it. */
  readonly password?: string;
  /**
   * Variables added to the redis-server process's environment (the test's own are inherited):
   * an LD_PRELOAD that sets its clock off the host's, say (redis-clock-shim.ts).
   */
  readonly serverEnv?: Readonly<Record<string, string>>;
}

/** redis-server could not bind its port: another process took it after freePort() found it free. */
class PortTaken extends Error {
  constructor(port: number) {
    super(`redis-server could not bind port ${port}: another process holds it`);
  }
}

/** Why a redis-server that ended while starting did: its port taken, or what it printed. */
function startFailure(port: number, printed: string): Error {
  if (printed.includes('Address already in use')) return new PortTaken(port);
  return new Error(`redis-server exited while starting on port ${port}: ${printed.trim().slice(-2000)}`);
}

/**
 * A private redis-server on a free loopback port, with nothing saved unless asked, so tests
 * never collide with each other or with a Redis already on the machine.
 */
export async function startTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  // A port found free may be taken by another process (the other test worker's) before
  // redis-server binds it: then the server exits, and the first start tries another port.
  let port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'qg-redis-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--dir',
      dir,
      '--appendonly',
      options.appendOnly ? 'yes' : 'no',
    ];
    if (options.appendOnly) args.push('--appendfsync', 'always');
    if (options.password !== undefined) args.push('--requirepass', options.password);
    // As an operator configures it for the position book's key watch (docs/operations.md); extraArgs may turn it off.
    args.push('--notify-keyspace-events', 'KA');
    args.push(...(options.extraArgs ?? []));
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.serverEnv } });
    // What it prints (its log, and a refused setting on stderr) says why a start failed: read until it is up.
    let printed = '';
    const heard = (chunk: Buffer) => (printed = (printed + chunk.toString()).slice(-4000));
    for (const out of [proc.stdout!, proc.stderr!]) out.on('data', heard);
    // 'close', not 'exit': by then all it printed has been read.
    let closed = false;
    proc.once('close', () => (closed = true));
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const up = () => {
      for (const out of [proc.stdout!, proc.stderr!]) out.off('data', heard).resume();
    };
    for (let i = 0; i < 200; i++) {
      if (closed) throw startFailure(port, printed);
      if (await isListening('127.0.0.1', port, 100)) {
        const probe = new Redis({
          port,
          host: '127.0.0.1',
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          // Bounded: what answers may be another process, on a port redis-server failed to bind.
          connectTimeout: 1000,
          commandTimeout: 1000,
          enableReadyCheck: false,
          retryStrategy: () => null,
          password: options.password,
        });
        probe.on('error', () => undefined);
        try {
          await probe.connect();
          const ours = (await probe.info('server')).includes(`process_id:${proc.pid}\r`);
          for (let j = 0; ours && j < 100; j++) {
            const info = await probe.info('persistence');
            if (!info.includes('loading:1')) return up();
            await new Promise((r) => setTimeout(r, 20));
          }
        } catch {
          // still loading; try again
        } finally {
          probe.disconnect();
        }
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`redis-server did not start on port ${port}: ${printed.trim().slice(-2000)}`);
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    child?.kill(signal);
    await exited;
  };

  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (error) {
      if (!(error instanceof PortTaken) || attempt === 3) throw error;
      port = await freePort();
    }
  }
  // RESP2, as the gates speak it (REDIS_PROTOCOL): a test reads the replies the gates read.
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: null, password: options.password, protocol: REDIS_PROTOCOL });
  client.on('error', () => undefined); // expected while a test restarts the server
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    client,
    start,
    kill: () => kill('SIGKILL'),
    async restart({ downMs = 500, hard = false, downUntil } = {}) {
      await kill(hard ? 'SIGKILL' : 'SIGTERM');
      if (downUntil === undefined) await new Promise((r) => setTimeout(r, downMs));
      else {
        const deadline = Date.now() + 15_000;
        while (!(await downUntil())) {
          if (Date.now() > deadline) throw new Error('restart: what was awaited while Redis was down did not happen within 15 s');
          await new Promise((r) => setTimeout(r, 25));
        }
      }
      await start();
    },
    async stop() {
      client.disconnect();
      await kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One private redis-server for the calling test file: started before its tests, flushed before
 * each one, stopped after the file. The returned handle stands for the server.
 */
export function usePrivateRedis(options: TestRedisOptions = {}): TestRedis {
  let server: TestRedis | undefined;
  const current = (): TestRedis => {
    if (!server) throw new Error('usePrivateRedis: the server exists only inside tests and hooks');
    return server;
  };
  beforeAll(async () => {
    server = await startTestRedis(options);
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    await current().client.flushall();
  });
  return {
    get port() {
      return current().port;
    },
    get url() {
      return current().url;
    },
    get dir() {
      return current().dir;
    },
    get client() {
      return current().client;
    },
    restart: (o) => current().restart(o),
    kill: () => current().kill(),
    start: () => current().start(),
    stop: () => current().stop(),
  };
}
