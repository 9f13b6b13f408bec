import { createServer, type AddressInfo } from 'node:net';
import { ConfigError } from '../schemas/env.js';
import { RedisWiringError } from './redis-preflight.js';
import { systemClock, type Clock } from '../runtime/host/index.js';
import { DataDirLocked, lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { isListening, localProbe, startLocalRedis, type LocalRedis } from './local-redis.js';
import { privateRedisAnswers, readPrivateRedisRecord, writePrivateRedisRecord } from './private-redis-record.js';

/** The pause before starting a private redis-server that died again, doubled up to the cap. */
const RESTART_PAUSE_MS = 500;
const RESTART_PAUSE_MAX_MS = 30_000;

export interface PrivateRedis {
  readonly url: string;
  readonly dataDir: string;
  readonly port: number;
  /** Records where this process serves its gates (their listen address), for `quantum-gates status`. */
  recordGates(address: string): void;
  /** Stops the server for good (no restart) and records that no process runs it. */
  stop(): Promise<void>;
}

/**
 * This process's hold on the private redis-server's directory (app/data-dir-lock.ts), or a
 * refusal naming the `npm start` that holds it and how to run beside it: on its Redis, on
 * another HTTP port (the first one has the default).
 */
export async function holdPrivateRedisDir(redisDir: string): Promise<DataDirLock> {
  try {
    return lockDataDir(redisDir);
  } catch (error) {
    if (!(error instanceof DataDirLocked)) throw error;
    const port = readPrivateRedisRecord(redisDir)?.port;
    const beside =
      port === undefined
        ? 'it has not recorded its redis-server yet'
        : `run beside it on that Redis with REDIS_URL=redis://127.0.0.1:${port}/0 PORT=${await freeLoopbackPort()} npm start`;
    // No setting is to blame (none may be set): the message names none.
    throw new RedisWiringError(
      undefined,
      `another npm start (pid ${error.holder}) runs the private redis-server on ${redisDir}` +
        `${port === undefined ? '' : ` at redis://127.0.0.1:${port}`}: stop it first, or ${beside} ` +
        `(if pid ${error.holder} is no npm start, remove ${error.path})`,
    );
  }
}

/** The port the private redis-server prefers when REDIS_PORT names none: QG_PRIVATE_REDIS_PORT, else Redis's own 6379. */
export function preferredPrivatePort(env: Readonly<Record<string, string | undefined>>): number {
  const text = env.QG_PRIVATE_REDIS_PORT?.trim();
  if (!text) return 6379;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new ConfigError([`QG_PRIVATE_REDIS_PORT: must be a port number (1-65535) (got "${text}")`]);
  return port;
}

/**
 * The port for the private redis-server. A port REDIS_PORT `named` is that port or the start is
 * refused: a Redis that is not this checkout's answering there is never replaced by a server
 * elsewhere (the CLI given the same REDIS_PORT writes to that one). Otherwise the preferred one when nothing
 * answers there (the quick start's 127.0.0.1:6379), else the one the last run recorded, so the
 * CLI's and a bookmark's address survive a restart, else a free one. Chosen under the lock.
 */
export async function privateRedisPort(redisDir: string, preferred: number, named: boolean, clock: Clock = systemClock): Promise<number> {
  const record = readPrivateRedisRecord(redisDir);
  // A killed npm start leaves its server running (its own process group): that one is ours.
  const orphan = record !== undefined && (await stopOrphan(redisDir, record.port, clock));
  if (named) {
    if (!(await isListening('127.0.0.1', preferred))) return preferred;
    throw new RedisWiringError(
      'REDIS_PORT',
      `127.0.0.1:${preferred} answers, and it is not this checkout's private redis-server: nothing was written to it. ` +
        `To run the gates on it: REDIS_HOST=127.0.0.1 REDIS_PORT=${preferred} npm start; for a private one on another port, unset REDIS_PORT`,
    );
  }
  if (orphan) return record.port;
  if (!(await isListening('127.0.0.1', preferred))) return preferred;
  if (record !== undefined && !(await isListening('127.0.0.1', record.port))) return record.port;
  return freeLoopbackPort();
}

/**
 * Shuts down the private redis-server a killed `npm start` left on `port`, told by its data
 * directory, so a second server never runs on the same files; SHUTDOWN writes its AOF first.
 * False when nothing, or another Redis, answers there.
 */
async function stopOrphan(redisDir: string, port: number, clock: Clock): Promise<boolean> {
  if ((await privateRedisAnswers(redisDir, port)) !== 'ours') return false;
  console.error(
    `quantum-gates: stopping the private redis-server a killed npm start left running at redis://127.0.0.1:${port}, to start it again`,
  );
  const probe = localProbe(port);
  try {
    await probe.connect();
    await probe.call('SHUTDOWN').catch(() => undefined); // the connection closes as it goes
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
  for (let i = 0; i < 100 && (await isListening('127.0.0.1', port, 100)); i++) await clock.sleep(50);
  return true;
}

/**
 * Starts the private redis-server on `port`, records it for the CLI (in `redisDir`), and starts it
 * again on the same port whenever it dies, saying so: the gates reconnect to it by themselves and
 * /ready answers 503 meanwhile.
 */
export async function runPrivateRedis(
  redisDir: string,
  port: number,
  say: (line: string) => void,
  clock: Clock = systemClock,
): Promise<PrivateRedis> {
  let current: LocalRedis = await startLocalRedis(redisDir, port, clock);
  writePrivateRedisRecord(redisDir, { port, pid: process.pid });
  let stopping = false;
  let pauseMs = RESTART_PAUSE_MS;
  const supervise = (server: LocalRedis): void => {
    void server.exited.then(async (code) => {
      if (stopping) return;
      say(
        `quantum-gates: the private redis-server at ${server.url} exited (${code === null ? 'killed' : `code ${code}`}); starting it again on the same port (see ${server.dataDir}/redis.log)`,
      );
      while (!stopping) {
        await clock.sleep(pauseMs);
        if (stopping) return;
        try {
          const again = await startLocalRedis(redisDir, port, clock);
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
  // process: a shutdown that times out, or a crash, must not leave it running on its directory
  // (SIGTERM: it writes its AOF and exits). Only a SIGKILL skips this; the next start stops that one.
  // stop() signals synchronously; the exit does not wait for the rest.
  process.once('exit', () => {
    if (!stopping) void current.stop();
  });
  return {
    url: current.url,
    dataDir: current.dataDir,
    port,
    recordGates(address) {
      if (readPrivateRedisRecord(redisDir)?.pid === process.pid)
        writePrivateRedisRecord(redisDir, { port, pid: process.pid, gates: address });
    },
    async stop() {
      stopping = true;
      await current.stop();
      if (readPrivateRedisRecord(redisDir)?.pid === process.pid) writePrivateRedisRecord(redisDir, { port });
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
