import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import type { GatesStatus } from '../../app/http/status/status.js';
import { httpPlugins } from '../../app/http-plugins.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { keys } from '../../schemas/keys.js';
import { refusedPort, startTestRedis, type TestRedis } from '../support/redis-server.js';
import { createTestRuntime, waitFor } from '../support/runtime.js';
import { startTestRedisCluster } from '../support/redis-cluster.js';
import { runCli } from './cli-harness.js';

const USER = 'ops';
/** The version every surface shows: package.json's. */
const PACKAGE_VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

function listening(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolvePromise(true)));
    socket.once('error', () => resolvePromise(false));
  });
}
const PASSWORD = 'correct-horse-battery';
/** A status shown: OK (exit 0), or DEGRADED (3) by what an earlier test left (its decisions). */
const SHOWN = [0, 3];

describe('quantum-gates status', () => {
  let redis: TestRedis;
  let runtime: Runtime;
  let env: Record<string, string>;

  beforeAll(async () => {
    redis = await startTestRedis();
    runtime = await createTestRuntime(
      redis.url,
      { HANDLERS: 'position-snapshot,heat-gate', DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD },
      allHandlers,
      { httpPlugins },
    );
    const address = await runtime.start();
    env = { QG_URL: address, DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD, REDIS_URL: redis.url };
  });
  afterAll(async () => {
    await runtime.stop();
    await redis.stop();
  });

  it('--json prints the /status JSON the server serves', async () => {
    const result = await runCli(['status', '--json'], env);

    expect(result.code, result.stderr).toBe(0);
    const status = JSON.parse(result.stdout) as GatesStatus;
    expect(status.gates.map((g) => g.name)).toEqual(expect.arrayContaining(['heat-gate', 'position-snapshot']));
  });

  it('renders gates, modes, heat, kill switch and decisions for a terminal, with live numbers', async () => {
    await runCli(['kill', 'on', '--reason', 'test'], env);
    await runCli(['inject', 'portfolio', '--equity-usd', '10000'], env);
    await runCli(['inject', 'snapshot', '--symbol', 'ETHUSDT', '--position-notional-usd', '1800', '--sigma', '0.15'], env);
    await waitFor(async () => (await redis.client.exists(keys.position('ETHUSDT'))) === 1);
    await runCli(['inject', 'proposal', '--symbol', 'ETHUSDT', '--action', 'FULL_CLOSE', '--plan-id', 'cli-status-1'], env);
    await waitFor(async () => (await redis.client.exists(keys.portfolioHeat)) === 1);

    const result = await waitFor(async () => {
      const r = await runCli(['status'], env);
      return r.stdout.includes('cli-status-1') ? r : undefined;
    });

    // BLOCKING is an exit of its own (4), with --json too: `status || page` pages on a kill switch.
    expect(result.code).toBe(4);
    expect((await runCli(['status', '--json'], env)).code).toBe(4);
    expect(result.stdout).toMatch(/^BLOCKING: trading is held up$/m);
    expect(result.stdout).toMatch(/^ {2}BLOCKING {2}kill switch quantum:kill is on: the governor blocks every plan$/m);
    expect(result.stdout).toMatch(
      new RegExp(`^version ${PACKAGE_VERSION.replaceAll('.', '\\.')} \\(\\S+\\) {2}instance \\S+ on \\S+:\\d+$`, 'm'),
    );
    // Times say their zone, never an epoch.
    expect(result.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+heat-gate\s+downgrade\s+ETHUSDT\s+cli-status-1/m);
    expect(result.stdout).toContain('kill switch ON: every plan is blocked');
    expect(result.stdout).toMatch(/portfolio heat 0\.027\d* COLD/);
    expect(result.stdout).toMatch(/^GATE\s+MODE\s+CONSUMING\s+PROCESSED/m);
    expect(result.stdout).toMatch(/^heat-gate\s+shadow\s+yes\s+1\s/m);
    expect(result.stdout).toMatch(/downgrade\s+ETHUSDT\s+cli-status-1\s+FULL_CLOSE/);
    await redis.client.del(keys.killSwitch);
  });

  it('refuses to show gates that run on another Redis than the one named, exit 1 (REDIS_URL, and a Redis that does not answer)', async () => {
    const other = await startTestRedis();
    try {
      const elsewhere = await runCli(['status'], { ...env, REDIS_URL: other.url });
      expect(elsewhere.code).toBe(1);
      expect(elsewhere.stderr).toContain(`the gates at ${env.QG_URL}/status are another deployment: it runs on Redis ${redis.url}/0`);
      expect(elsewhere.stderr).toContain(`not on ${other.url}/0 (settings from the environment, run_id:`);
      expect(elsewhere.stdout).toBe('');

      const nowhere = await runCli(['status', '--json'], { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
      expect(nowhere.code).toBe(1);
      expect(nowhere.stderr).toMatch(
        /another deployment: .*not on redis:\/\/127\.0\.0\.1:1\/0 \(settings from the environment\), which does not answer: .*ECONNREFUSED/,
      );
      expect(nowhere.stdout).toBe('');
    } finally {
      await other.stop();
    }
  });

  it('refuses to show gates on a single Redis when REDIS_CLUSTER_NODES names a cluster, exit 1', async () => {
    const cluster = await startTestRedisCluster();
    try {
      const { REDIS_URL: _single, ...rest } = env;
      const result = await runCli(['status'], { ...rest, REDIS_CLUSTER_NODES: cluster.nodes });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`another deployment: it runs on Redis ${redis.url}/0 (run_id:`);
      expect(result.stderr).toMatch(new RegExp(`not on cluster ${cluster.nodes} \\(settings from the environment, cluster:\\w{40}\\)`));
      expect(result.stdout).toBe('');
    } finally {
      await cluster.stop();
    }
  });

  it('shows the gates that run on the Redis named, however it is reached, and says which Redis they run on when nothing named one', async () => {
    const same = await runCli(['status', '--json'], { ...env, REDIS_URL: `redis://localhost:${redis.port}/0` });
    expect(same.code, same.stderr).toBeOneOf(SHOWN);
    expect((JSON.parse(same.stdout) as GatesStatus).instance).toMatchObject({
      redis: `${redis.url}/0`,
      redis_id: expect.stringMatching(/^run_id:\w{40}$/),
    });

    const { REDIS_URL: _named, ...unnamed } = env;
    const shown = await runCli(['status', '--json'], unnamed); // the harness's env-file directory is empty
    expect(shown.code, shown.stderr).toBeOneOf(SHOWN);
    expect(shown.stderr).toContain(`run on Redis ${redis.url}/0 (not compared: nothing named a Redis)`);
  });

  it('fails with exit 1 and says so when the credentials are refused', async () => {
    const result = await runCli(['status'], { ...env, DASHBOARD_PASSWORD: 'wrong-password' });

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/refused the credentials \(HTTP 401\)/);
  });

  it('fails with exit 1 and says where it looked when nothing listens', async () => {
    const url = `http://127.0.0.1:${await refusedPort()}`;

    const result = await runCli(['status'], { ...env, QG_URL: url });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot reach quantum-gates at ${url}/status: ECONNREFUSED`);
  });

  it("per gate: asks every instance in $QG_ENV_DIR's gates-<gate>.env with gates-common.env's credentials; one that does not answer is BLOCKING, exit 4", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qg-per-gate-'));
    const hosting = new URL(env.QG_URL!).port;
    const silent = await refusedPort();
    try {
      // As docs/operations.md §1 installs them: the shared file, then one per instance.
      await writeFile(join(dir, 'gates-common.env'), `REDIS_URL=${redis.url}\nDASHBOARD_USER=${USER}\nDASHBOARD_PASSWORD=${PASSWORD}\n`);
      await writeFile(join(dir, 'gates-heat-gate.env'), `PORT=${hosting}\nHOST=127.0.0.1\n`);
      await writeFile(join(dir, 'gates-governor.env'), `PORT=${silent}\nHOST=0.0.0.0\n`);

      const text = await runCli(['status'], { QG_ENV_DIR: dir });
      const json = await runCli(['status', '--json'], { QG_ENV_DIR: dir });

      expect(text.code, text.stderr).toBe(4);
      expect(text.stdout).toMatch(new RegExp(`^governor +http://127\\.0\\.0\\.1:${silent}/status +- +NO ANSWER: ECONNREFUSED$`, 'm'));
      expect(text.stdout).toMatch(new RegExp(`^heat-gate +\\S+:${hosting} +\\S+ \\(\\S+\\) +position-snapshot, heat-gate$`, 'm'));
      expect(text.stdout).toMatch(/^BLOCKING: trading is held up$/m);
      expect(text.stdout).toMatch(
        /^ {2}BLOCKING {2}instance governor \(http:\/\/127\.0\.0\.1:\d+\/status\) did not answer: ECONNREFUSED$/m,
      );
      expect(text.stdout).toMatch(/^heat-gate\s+shadow\s+yes\s/m);
      expect(text.stderr).toContain('instance governor');
      const merged = JSON.parse(json.stdout) as GatesStatus & { instances: { name: string; error: string | null }[] };
      expect(merged.instances.map((i) => [i.name, i.error])).toEqual([
        ['governor', 'ECONNREFUSED'],
        ['heat-gate', null],
      ]);
      expect(merged.gates.map((g) => g.name)).toEqual(['position-snapshot', 'heat-gate']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('per gate: an instance without the governor that does not answer is DEGRADED, exit 3', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qg-per-gate-'));
    try {
      await writeFile(join(dir, 'gates-common.env'), `REDIS_URL=${redis.url}\nDASHBOARD_USER=${USER}\nDASHBOARD_PASSWORD=${PASSWORD}\n`);
      await writeFile(join(dir, 'gates-heat-gate.env'), `PORT=${new URL(env.QG_URL!).port}\nHOST=127.0.0.1\n`);
      await writeFile(join(dir, 'gates-risk-budget.env'), `PORT=${await refusedPort()}\nHOST=127.0.0.1\n`);

      const result = await runCli(['status'], { QG_ENV_DIR: dir });

      expect(result.stdout).toMatch(/^DEGRADED: /m);
      expect(result.code, result.stderr).toBe(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('per gate: an instance on another Redis than gates-common.env names is another deployment, not shown, exit 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qg-per-gate-'));
    const other = await startTestRedis();
    try {
      await writeFile(join(dir, 'gates-common.env'), `REDIS_URL=${other.url}\nDASHBOARD_USER=${USER}\nDASHBOARD_PASSWORD=${PASSWORD}\n`);
      await writeFile(join(dir, 'gates-heat-gate.env'), `PORT=${new URL(env.QG_URL!).port}\nHOST=127.0.0.1\n`);

      const result = await runCli(['status'], { QG_ENV_DIR: dir });

      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('no instance answered');
      expect(result.stderr).toContain(
        `heat-gate http://127.0.0.1:${new URL(env.QG_URL!).port}/status: another deployment: it runs on Redis ${redis.url}/0`,
      );
    } finally {
      await other.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  // The default address is :8080, which a shared machine may be using: then there is nothing to show.
  it('where nothing listens on :8080 and no QG_URL or PORT is set, asks the per-gate instances instead', async (context) => {
    if (await listening(8080)) context.skip();
    const dir = await mkdtemp(join(tmpdir(), 'qg-per-gate-'));
    try {
      await writeFile(join(dir, 'gates-heat-gate.env'), `PORT=${new URL(env.QG_URL!).port}\n`);

      const result = await runCli(['status'], { QG_ENV_DIR: dir, DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD });

      expect(result.code, result.stderr).toBeOneOf(SHOWN);
      expect(result.stderr).toContain(`nothing listens on 127.0.0.1:8080; asking the 1 per-gate instances in ${dir}`);
      expect(result.stdout).toMatch(/^heat-gate +\S+:\d+ +\S+ \(\S+\) +position-snapshot, heat-gate$/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a comma-separated --url names the instances; PORT alone keeps asking the one process', async () => {
    const both = await runCli(['status', '--json', '--url', `${env.QG_URL},${env.QG_URL}`], env);
    const one = await runCli(['status', '--json'], { ...env, QG_URL: '', PORT: new URL(env.QG_URL!).port });

    expect(both.code, both.stderr).toBeOneOf(SHOWN);
    expect((JSON.parse(both.stdout) as { instances: unknown[] }).instances).toHaveLength(2);
    expect(one.code, one.stderr).toBeOneOf(SHOWN);
    expect(JSON.parse(one.stdout)).not.toHaveProperty('instances');
  });

  it('refuses a malformed --url with exit 2', async () => {
    const result = await runCli(['status', '--url', 'not a url'], env);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--url');
  });
});

describe('quantum-gates status right after the kill switch is set', () => {
  let redis: TestRedis;
  let runtime: Runtime;
  let env: Record<string, string>;

  beforeAll(async () => {
    redis = await startTestRedis();
    // A status cache far longer than the test: a status served from it would predate `kill on`
    // (the default second let `status` answer OK in 2 of 3 tries).
    runtime = await createTestRuntime(redis.url, { HANDLERS: 'position-snapshot,heat-gate', STATUS_CACHE_MS: '600000' }, allHandlers, {
      httpPlugins,
    });
    env = { QG_URL: await runtime.start(), REDIS_URL: redis.url };
  });
  afterAll(async () => {
    await runtime.stop();
    await redis.stop();
  });

  it('answers BLOCKING at once: the CLI asks for a read begun after its request, not the cached one', async () => {
    const before = await runCli(['status'], env);
    expect(SHOWN, before.stderr).toContain(before.code);
    expect(before.stdout).not.toContain('kill switch ON');

    expect((await runCli(['kill', 'on', '--reason', 'drill'], env)).code).toBe(0);
    const after = await runCli(['status'], env);

    expect(after.code, after.stdout).toBe(4);
    expect(after.stdout).toContain('kill switch ON: every plan is blocked');
    expect((await runCli(['status', '--json'], env)).code).toBe(4);

    expect((await runCli(['kill', 'off', '--reason', 'drill over'], env)).code).toBe(0);
    const released = await runCli(['status'], env);
    expect(SHOWN, released.stdout).toContain(released.code);
  });
});
