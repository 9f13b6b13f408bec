import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import { freePort, startTestRedis, type TestRedis } from '../support/redis-server.js';
import { spawnRuntime, type RuntimeProcess } from './support/runtime-process.js';
import { duplicates, fieldOfAll, pendingCount, proposal, waitFor } from './support/streams.js';
import { untilEachSeen } from '../support/until.js';

/**
 * A Sentinel failover under load: the runtime follows the sentinels to the promoted replica
 * (the demoted master answers READONLY), and every proposal written to the new master is decided
 * exactly once. Proposals acknowledged by the old master and replicated before the switch are
 * decided once too; none is decided twice.
 */
describe('a Sentinel failover during load (chaos)', () => {
  let primary: TestRedis;
  let replica: TestRedis;
  let sentinel: ChildProcess;
  let sentinelPort: number;
  let dir: string;
  let runtime: RuntimeProcess;
  let viaSentinel: Redis;

  const masterPort = async (): Promise<number> => {
    const probe = new Redis({ port: sentinelPort, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    probe.on('error', () => undefined);
    try {
      const addr = (await probe.call('SENTINEL', 'get-master-addr-by-name', 'qgfail')) as string[];
      return Number(addr[1]);
    } finally {
      probe.disconnect();
    }
  };

  beforeAll(async () => {
    primary = await startTestRedis();
    replica = await startTestRedis();
    await replica.client.call('REPLICAOF', '127.0.0.1', String(primary.port));
    await waitFor(async () => /master_link_status:up/.test(await replica.client.info('replication')), { what: 'replica in sync' });
    sentinelPort = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'qg-failover-'));
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor qgfail 127.0.0.1 ${primary.port} 1`,
        'sentinel down-after-milliseconds qgfail 1000',
        'sentinel failover-timeout qgfail 5000',
        '',
      ].join('\n'),
    );
    sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    await waitFor(async () => (await masterPort().catch(() => 0)) === primary.port, { what: 'sentinel knows the master' });
    await waitFor(
      async () => {
        const probe = new Redis({ port: sentinelPort, host: '127.0.0.1', maxRetriesPerRequest: 0 });
        try {
          const replicas = (await probe.call('SENTINEL', 'replicas', 'qgfail')) as unknown[];
          return replicas.length > 0;
        } finally {
          probe.disconnect();
        }
      },
      { what: 'sentinel knows the replica' },
    );
    viaSentinel = new Redis({
      sentinels: [{ host: '127.0.0.1', port: sentinelPort }],
      name: 'qgfail',
      failoverDetector: true,
      retryStrategy: () => 50,
    });
    viaSentinel.on('error', () => undefined);
    await viaSentinel.hset(keys.portfolioState, 'equity_usd', '10000');
    runtime = await spawnRuntime({
      redisUrl: '',
      handlers: 'heat-gate',
      consumerName: 'chaos-failover',
      env: { REDIS_URL: '', REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`, REDIS_SENTINEL_NAME: 'qgfail', COMMIT_BACKOFF_MAX_MS: '500' },
    });
    await waitFor(async () => (await runtime.get('/ready')).status === 200, { what: '/ready 200 at start' });
  });
  afterAll(async () => {
    await runtime?.kill();
    viaSentinel?.disconnect();
    sentinel?.kill('SIGKILL');
    await replica?.stop();
    await primary?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('follows the promoted replica and decides every proposal once', async () => {
    const before = Array.from({ length: 500 }, (_, i) => `fo-a${i}`);
    for (const id of before) await viaSentinel.xadd(streams.harvestProposal, '*', ...Object.entries(proposal(id)).flat());
    await untilEachSeen(viaSentinel, streams.harvestCalibrated, 'plan_id', before, { what: 'the first 500 decided', timeoutMs: 60_000 });
    await viaSentinel.call('WAIT', '1', '2000');

    const started = Date.now();
    await viaSentinel.call('SENTINEL', 'FAILOVER', 'qgfail').catch(async () => {
      const probe = new Redis({ port: sentinelPort, host: '127.0.0.1' });
      await probe.call('SENTINEL', 'FAILOVER', 'qgfail');
      probe.disconnect();
    });
    await waitFor(async () => (await masterPort()) === replica.port, { what: 'the replica promoted', timeoutMs: 30_000 });
    // Until the old master is demoted it still takes writes that Redis then drops (asynchronous
    // replication): had the producer written all of its second half in that moment, none would
    // reach the new master and the failover would go unexercised. The gates are not waited for.
    await waitFor(async () => ((await primary.client.call('ROLE')) as string[])[0] === 'slave', {
      what: 'the old master demoted',
      timeoutMs: 30_000,
    });

    const after = Array.from({ length: 500 }, (_, i) => `fo-b${i}`);
    for (const id of after) {
      for (;;) {
        try {
          await viaSentinel.xadd(streams.harvestProposal, '*', ...Object.entries(proposal(id)).flat());
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50)); // READONLY while the client follows the switch
        }
      }
    }
    // Writes the old master acknowledged in the moment between the promotion and its demotion are
    // lost by Redis itself (asynchronous replication): what counts is what the new master holds.
    let written: string[] = [];
    let decided: string[] = [];
    await waitFor(
      async () => {
        written = await fieldOfAll(replica.client, streams.harvestProposal, 'plan_id');
        decided = await fieldOfAll(replica.client, streams.harvestCalibrated, 'plan_id');
        return (
          written.every((id) => decided.includes(id)) &&
          (await pendingCount(replica.client, streams.harvestProposal, 'p26_heat_gate')) === 0
        );
      },
      { what: 'every proposal the new master holds decided', timeoutMs: 40_000 },
    );
    const lost = after.filter((id) => !written.includes(id)).length;
    console.info(
      `[chaos] sentinel failover: every proposal decided ${Date.now() - started} ms after the failover began; ${lost} writes lost by Redis in the switch`,
    );
    expect(written.filter((id) => id.startsWith('fo-b')).length).toBeGreaterThan(0);
    expect(before.every((id) => written.includes(id))).toBe(true);
    expect(duplicates(decided)).toEqual([]);
    expect(new Set(decided)).toEqual(new Set(written));
    await waitFor(async () => (await runtime.get('/ready')).status === 200, { what: '/ready 200 after the failover' });
  });
});
