import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { isListening } from '../../app/local-redis.js';
import { streams } from '../../schemas/keys.js';
import { freePort } from '../support/redis-server.js';
import { chaosEnv } from './support/runtime-process.js';
import { proposal, seedPortfolio, waitFor } from './support/streams.js';
import { untilStreamLength } from '../support/until.js';
import { childBaseEnv } from '../support/own-dirs.js';
import { gatesEntry } from '../support/gates-process.js';

const root = resolve(import.meta.dirname, '../..');

/**
 * Redis not up yet when the gates start (issue #39, finding 4): a host booting, Redis restarted
 * with them. The process must wait (never exit: under the unit's restart limit an exit is for
 * good), answer /ready 503 meanwhile, say so in its log, and start its gates once Redis answers.
 */
describe('Redis down when the gates start', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('waits with /ready 503, then becomes ready and processes messages once redis-server comes up', async () => {
    const redisPort = await freePort();
    // Not PORT=0: the "serving" line that would name the port comes only once Redis answers, and
    // /ready is asked before. A port taken meanwhile makes the app exit (said below, with its output),
    // and each request is bounded, so one to a listener that never answers cannot hold the wait.
    const port = await freePort();
    const gates = spawn(process.execPath, [...gatesEntry()], {
      cwd: root,
      env: {
        ...childBaseEnv(),
        ...chaosEnv,
        REDIS_URL: `redis://127.0.0.1:${redisPort}/0`,
        PORT: String(port),
        HANDLERS: 'heat-gate',
        CONSUMER_NAME: 'chaos-down-at-start',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    gates.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    gates.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let exitCode: number | null | undefined;
    const exited = new Promise<void>((r) => gates.once('exit', (code) => ((exitCode = code), r())));
    cleanups.push(async () => {
      gates.kill('SIGTERM');
      await exited;
    });
    const ready = async () =>
      (await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined))?.status;

    // An exit ends the wait at once, so a start that gave up fails with its output, not a timeout.
    await waitFor(async () => exitCode !== undefined || (await ready()) === 503, {
      what: '/ready 503 while Redis is down',
      timeoutMs: 60_000,
    });
    expect(exitCode, output).toBeUndefined();
    await waitFor(() => output.includes('waiting for Redis to answer'), { what: 'the waiting line' });
    // Longer than the whole start-up took before it gave up, and than systemd's RestartSec.
    await new Promise((r) => setTimeout(r, 3000));
    expect(exitCode, output).toBeUndefined();
    expect(await ready()).toBe(503);
    expect(output).toContain(`cannot reach Redis at redis://127.0.0.1:${redisPort}/0`);

    const dir = mkdtempSync(join(tmpdir(), 'qg-redis-late-'));
    const server: ChildProcess = spawn(
      'redis-server',
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--notify-keyspace-events', 'KA'],
      {
        stdio: 'ignore',
      },
    );
    const serverExited = new Promise<void>((r) => server.once('exit', () => r()));
    cleanups.push(async () => {
      server.kill('SIGTERM');
      await serverExited;
      rmSync(dir, { recursive: true, force: true });
    });
    await waitFor(() => isListening('127.0.0.1', redisPort, 100), { what: 'redis-server listening' });
    const client = new Redis({ port: redisPort, maxRetriesPerRequest: null });
    cleanups.push(() => void client.disconnect());

    await waitFor(async () => (await ready()) === 200, { what: '/ready 200 once Redis answers', timeoutMs: 30_000 });
    await seedPortfolio(client);
    await client.xadd(streams.harvestProposal, '*', ...Object.entries(proposal('late-1')).flat());
    await untilStreamLength(client, streams.harvestCalibrated, 1, { what: 'the proposal decided', timeoutMs: 60_000 });
    expect(await client.xlen(streams.harvestCalibrated)).toBe(1);
    expect(exitCode).toBeUndefined();
    expect(output.match(/waiting for Redis to answer/g)).toHaveLength(1);
  });
});
