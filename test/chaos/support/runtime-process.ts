import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isolatedEnv } from '../../support/own-dirs.js';
import { unitMallocArenas, unitNodeOptions } from '../../support/unit-node.js';
import { gatesEntry } from '../../support/gates-process.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface RuntimeProcess {
  readonly name: string;
  readonly pid: number;
  /** http://127.0.0.1:port of the process's Fastify server. */
  readonly address: string;
  readonly exited: Promise<number | null>;
  /** SIGKILL: no drain, no commit, no goodbye. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the graceful exit. */
  stop(): Promise<void>;
  /** GET a path; the status code and body (status 0 when the process does not answer). */
  get(path: string): Promise<{ status: number; body: string }>;
  /** A metric's value summed over its label sets (0 when absent). */
  metric(name: string): Promise<number>;
  /** The last lines the process wrote, for failure messages. */
  output(): string;
}

export interface SpawnOptions {
  readonly redisUrl: string;
  readonly handlers: string;
  readonly consumerName: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** The runtime settings every chaos process gets: quick reclaim so recovery fits in test time. */
export const chaosEnv = { CLAIM_IDLE_MS: '2000', CLAIM_INTERVAL_MS: '500', BLOCK_MS: '200', LOG_LEVEL: 'warn' } as const;

/**
 * Starts the gates' entry point (app/main.ts of the current sources, test/support/gates-process.ts)
 * as a real child process (so SIGKILL means what it means), with the unit's node options, and
 * resolves once it prints the address it serves.
 */
export async function spawnRuntime(options: SpawnOptions): Promise<RuntimeProcess> {
  // The unit's node options and malloc arenas, so a chaos process's memory is the deployed one's (V8's
  // defaults let the heap grow 2.5× between mark-compacts where the unit lets it grow by half); a
  // data directory of the test's own, never the checkout's .data.
  const child: ChildProcess = spawn(process.execPath, [...unitNodeOptions(), ...gatesEntry()], {
    cwd: projectRoot,
    env: {
      ...inheritedEnv(),
      ...unitMallocArenas(),
      ...isolatedEnv(),
      ...chaosEnv,
      REDIS_URL: options.redisUrl,
      PORT: '0',
      HANDLERS: options.handlers,
      CONSUMER_NAME: options.consumerName,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolvePromise) => child.once('exit', (code) => resolvePromise(code)));

  const address = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.consumerName} did not start within 30 s:\n${lines.join('\n')}`)), 30_000);
    const onData = (chunk: Buffer) => {
      const match = /serving (http:\/\/[^\s]+)/.exec(chunk.toString('utf8'));
      if (match) {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        resolvePromise(match[1]!);
      }
    };
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${options.consumerName} exited with ${code} before serving:\n${lines.join('\n')}`));
    });
  });

  const get = async (path: string) => {
    try {
      const response = await fetch(`${address}${path}`, { signal: AbortSignal.timeout(5000) });
      return { status: response.status, body: await response.text() };
    } catch {
      return { status: 0, body: '' };
    }
  };

  return {
    name: options.consumerName,
    pid: child.pid!,
    address,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    get,
    async metric(name: string) {
      const { body } = await get('/metrics');
      return sumMetric(body, name);
    },
    output: () => lines.join('\n'),
  };
}

/** The parent's environment without anything that would point the child at another Redis or handler set. */
function inheritedEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith('REDIS_') || name.startsWith('P26_') || name.startsWith('GOV_') || name === 'HANDLERS' || name === 'PORT')
      delete env[name];
  }
  return env;
}

/** Sums every sample of `name` in a Prometheus text exposition. */
export function sumMetric(body: string, name: string): number {
  let total = 0;
  for (const line of body.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
