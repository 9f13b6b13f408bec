import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestRedis, type TestRedis } from '../support/redis-server.js';
import { waitFor } from '../support/runtime.js';
import { untilReady, untilServing } from '../support/serving.js';
import { childBaseEnv } from '../support/own-dirs.js';
import { gatesEntry } from '../support/gates-process.js';

const root = resolve(import.meta.dirname, '../..');
const PASSWORD = 'Sup3r secret-pw';
const ENCODED = encodeURIComponent(PASSWORD);

/**
 * Runs `npm start` at LOG_LEVEL=debug until /ready answers 200, then stops it with SIGTERM, and
 * returns everything it printed on the way: every start-up and shutdown log line.
 */
async function startAndStop(env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, [...gatesEntry()], {
    cwd: root,
    env: { ...childBaseEnv(), LOG_LEVEL: 'debug', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const port = await untilServing(child, 30_000);
    await untilReady(port, { timeoutMs: 30_000, what: `/ready (output so far: ${output.slice(-2000)})` });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    return output;
  } finally {
    child.kill('SIGKILL');
  }
}

function expectNoSecret(output: string): void {
  expect(output).toContain('starting quantum-gates');
  expect(output).not.toContain(PASSWORD);
  expect(output).not.toContain(ENCODED);
}

describe('what npm start prints never holds the Redis password', () => {
  let master: TestRedis;
  let sentinel: ChildProcess | undefined;
  let sentinelPort: number;
  let dir: string;

  beforeAll(async () => {
    master = await startTestRedis({ password: PASSWORD });
    sentinelPort = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'qg-sentinel-'));
    const conf = join(dir, 'sentinel.conf');
    const lines = [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor qgmaster 127.0.0.1 ${master.port} 1`,
      `sentinel auth-pass qgmaster "${PASSWORD}"`,
      '',
    ];
    writeFileSync(conf, lines.join('\n'));
    sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    const probe = new Redis({ port: sentinelPort, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    probe.on('error', () => undefined);
    await waitFor(
      async () => {
        const addr = (await probe.call('SENTINEL', 'get-master-addr-by-name', 'qgmaster').catch(() => null)) as string[] | null;
        return addr?.[1] === String(master.port);
      },
      { what: 'sentinel knows the master' },
    );
    probe.disconnect();
  });
  afterAll(async () => {
    sentinel?.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
    await master?.stop();
  });

  it('with the password in REDIS_URL (in the user info and in the query) or in REDIS_PASSWORD behind Sentinel', async () => {
    const configurations: Record<string, string>[] = [
      { REDIS_URL: `redis://:${ENCODED}@127.0.0.1:${master.port}/0` },
      { REDIS_URL: `redis://127.0.0.1:${master.port}/0?password=${ENCODED}` },
      { REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`, REDIS_SENTINEL_NAME: 'qgmaster', REDIS_PASSWORD: PASSWORD },
    ];
    for (const env of configurations) expectNoSecret(await startAndStop(env));
  });
});
