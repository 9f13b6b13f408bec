import { realpathSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { RedisWiringError } from './redis-preflight.js';
import { isListening, localProbe, startLocalRedis, type LocalRedis } from './local-redis.js';
import { isRunning, privateRedisDir, readPrivateRedisRecord, writePrivateRedisRecord } from './private-redis-record.js';

/** The pause before starting a private redis-server that died again, doubled up to the cap. */
const RESTART_PAUSE_MS = 500;
const RESTART_PAUSE_MAX_MS = 30_000;

export interface PrivateRedis {
  readonly url: string;
  readonly dataDir: string;
  readonly port: number;
  /** Stops the server for good (no restart) and records that no process runs it. */
  stop(): Promise<void>;
}

/**
 * The port for the private redis-server: the default one when nothing answers there (the quick
 * start's 127.0.0.1:6379), else the one the last run recorded, so the CLI's and a bookmark's
 * address survive a restart, else a free one. Refuses while another `npm start` of this checkout
 * runs its own: two servers on one data directory would corrupt it.
 */
export async function privateRedisPort(projectRoot: string, defaultPort: number): Promise<number> {
  const record = readPrivateRedisRecord(projectRoot);
  if (record !== undefined && record.pid !== process.pid && isRunning(record))
    throw new RedisWiringError(
      'REDIS_URL',
      `another npm start of this checkout (pid ${record.pid}) runs the private redis-server at redis://127.0.0.1:${record.port} on .data/redis: ` +
        `stop it first, or run beside it on that Redis with REDIS_URL=redis://127.0.0.1:${record.port}/0`,
    );
  // A killed npm start leaves its server running (its own process group): that one is ours.
  if (record !== undefined && (await stopOrphan(projectRoot, record.port))) return record.port;
  if (!(await isListening('127.0.0.1', defaultPort))) return defaultPort;
  if (record !== undefined && !(await isListening('127.0.0.1', record.port))) return record.port;
  return freeLoopbackPort();
}

/**
 * Shuts down the private redis-server a killed `npm start` left on `port`, told by its data
 * directory (.data/redis), so a second server never runs on the same files; SHUTDOWN writes its
 * AOF first. False when nothing, or another Redis, answers there.
 */
async function stopOrphan(projectRoot: string, port: number): Promise<boolean> {
  if (!(await isListening('127.0.0.1', port))) return false;
  const probe = localProbe(port);
  try {
    await probe.connect();
    const [, dir] = (await probe.config('GET', 'dir')) as [string, string];
    if (realpathSync(dir) !== realpathSync(privateRedisDir(projectRoot))) return false;
    console.error(
      `quantum-gates: stopping the private redis-server a killed npm start left running at redis://127.0.0.1:${port}, to start it again`,
    );
    await probe.call('SHUTDOWN').catch(() => undefined); // the connection closes as it goes
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
  for (let i = 0; i < 100 && (await isListening('127.0.0.1', port, 100)); i++) await new Promise((r) => setTimeout(r, 50));
  return true;
}

/**
 * Starts the private redis-server on `port`, records it for the CLI (.data/redis), and starts it
 * again on the same port whenever it dies, saying so: the gates reconnect to it by themselves and
 * /ready answers 503 meanwhile.
 */
export async function runPrivateRedis(projectRoot: string, port: number, say: (line: string) => void): Promise<PrivateRedis> {
  let current: LocalRedis = await startLocalRedis(projectRoot, port);
  writePrivateRedisRecord(projectRoot, { port, pid: process.pid });
  let stopping = false;
  let pauseMs = RESTART_PAUSE_MS;
  const supervise = (server: LocalRedis): void => {
    void server.exited.then(async (code) => {
      if (stopping) return;
      say(
        `quantum-gates: the private redis-server at ${server.url} exited (${code === null ? 'killed' : `code ${code}`}); starting it again on the same port (see ${server.dataDir}/redis.log)`,
      );
      while (!stopping) {
        await new Promise((r) => setTimeout(r, pauseMs));
        if (stopping) return;
        try {
          const again = await startLocalRedis(projectRoot, port);
          if (stopping) return void (await again.stop());
          current = again;
          say(`quantum-gates: the private redis-server runs again at ${current.url}`);
          pauseMs = RESTART_PAUSE_MS;
          supervise(current);
          return;
        } catch (error) {
          pauseMs = Math.min(pauseMs * 2, RESTART_PAUSE_MAX_MS);
          say(
            `quantum-gates: the private redis-server did not start again (${(error as Error).message}); next attempt in ${pauseMs / 1000} s`,
          );
        }
      }
    });
  };
  supervise(current);
  // Its own process group keeps it out of a terminal's Ctrl-C, so nothing else stops it with this
  // process: a shutdown that times out, or a crash, must not leave it running on .data/redis
  // (SIGTERM: it writes its AOF and exits). Only a SIGKILL skips this; the next start stops that one.
  // stop() signals synchronously; the exit does not wait for the rest.
  process.once('exit', () => {
    if (!stopping) void current.stop();
  });
  return {
    url: current.url,
    dataDir: current.dataDir,
    port,
    async stop() {
      stopping = true;
      await current.stop();
      writePrivateRedisRecord(projectRoot, { port });
    },
  };
}

/** A free port on the loopback interface, for a private redis-server beside one that runs already. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}
