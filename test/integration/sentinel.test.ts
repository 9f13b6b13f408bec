import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { freePort, usePrivateRedis } from '../support/redis-server.js';
import { readStream, startRuntime, waitFor } from '../support/runtime.js';
import { runCli } from './cli-harness.js';

describe('the gates behind Redis Sentinel', () => {
  const master = usePrivateRedis();
  let sentinel: ChildProcess;
  let sentinelPort: number;
  let dir: string;

  beforeAll(async () => {
    sentinelPort = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'qg-sentinel-'));
    // Sentinel rewrites its own config file, so it gets one of its own.
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [`port ${sentinelPort}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor qgmaster 127.0.0.1 ${master.port} 1`, ''].join('\n'),
    );
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
  afterAll(() => {
    sentinel.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['kill status', ['kill', 'status']],
    ['inject portfolio', ['inject', 'portfolio', '--equity-usd', '10000']],
    ['dlq list', ['dlq', 'list']],
  ])('the CLI %s through REDIS_SENTINELS does its work and exits on its own', async (_name, args) => {
    const env = { REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`, REDIS_SENTINEL_NAME: 'qgmaster', QG_ENV_DIR: dir };
    // A command that did its work and then hung (the failover detector's sentinel connection left
    // open) is killed at the deadline and rejects.
    const result = await runCli(args, env, { timeoutMs: 10_000 });

    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('default: nothing named a Redis');
  });

  it('finds the master through REDIS_SENTINELS and runs the heat gate on it', async () => {
    let runtime: Runtime | undefined;
    try {
      runtime = await startRuntime('', {
        REDIS_URL: '',
        REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`,
        REDIS_SENTINEL_NAME: 'qgmaster',
        HANDLERS: 'heat-gate',
      });
      await master.client.hset(keys.portfolioState, 'equity_usd', '10000');
      await master.client.xadd(streams.harvestProposal, '*', 'plan_id', 's1', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
      const [out] = await waitFor(async () => {
        const entries = await readStream(master.client, streams.harvestCalibrated);
        return entries.length > 0 ? entries : undefined;
      });
      expect(out).toMatchObject({ plan_id: 's1', calibrated_action: 'PARTIAL_25' });
      expect((await runtime.server.inject({ url: '/ready' })).statusCode).toBe(200);
    } finally {
      await runtime?.stop();
    }
  });
});
