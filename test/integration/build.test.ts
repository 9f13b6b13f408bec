import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { waitFor } from '../support/runtime.js';
import { untilReady, untilServing } from '../support/serving.js';
import { childBaseEnv } from '../support/own-dirs.js';
import { unitNodeOptions } from '../support/unit-node.js';

const root = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

/** Starts the built app and waits until /ready answers 200; the caller stops it. */
async function startBuilt(app: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [...unitNodeOptions(), app], {
    cwd: root,
    env: {
      ...childBaseEnv(),
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const port = await untilServing(child, 30_000);
  const base = `http://127.0.0.1:${port}`;
  await untilReady(port, { timeoutMs: 30_000, what: `/ready of the built app (output so far: ${output})` });
  return { child, exited, base, output: () => output };
}

// The bundle as `npm run build` makes it (scripts/bundle.mjs, scripts/write-build-info.mjs), into
// a folder of its own: rebuilding dist/ here would pull it from under the CLI tests running alongside.
describe('the build (esbuild bundle)', () => {
  let redis: TestRedis;
  let out: string;

  beforeAll(async () => {
    redis = await startTestRedis();
    mkdirSync(resolve(root, 'test-artifacts'), { recursive: true });
    // Named dist/ as a release's is: the CLI knows its build by that name (cli/rehearse/release.ts, buildRoot).
    out = join(mkdtempSync(resolve(root, 'test-artifacts', 'build-')), 'dist');
    await run(process.execPath, ['scripts/bundle.mjs', relative(root, out)], { cwd: root });
    await run(process.execPath, ['scripts/write-build-info.mjs', relative(root, out)], { cwd: root });
  }, 120_000);
  afterAll(async () => {
    await redis?.stop();
    if (out) rmSync(dirname(out), { recursive: true, force: true });
  });

  it('starts with the unit’s command line, answers /ready and serves the status page, and exits 0 on SIGTERM', async () => {
    const app = await startBuilt(join(out, 'app/main.js'), { REDIS_URL: redis.url });
    try {
      const page = await fetch(`${app.base}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('/status-page/app.js');
      expect((await fetch(`${app.base}/status-page/style.css`)).status).toBe(200);
      // dist/build-info.json is found from the bundle: the metric names the commit, not "source".
      const metrics = await (await fetch(`${app.base}/metrics`)).text();
      expect(metrics).toMatch(/quantum_gates_build_info\{[^}]*commit="(?!source")[^"]+"/);
      // The commit script is read from dist/lua/: a proposal goes through the heat gate's commit.
      await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', 'built', 'symbol', 'ETHUSDT', 'action', 'FULL_CLOSE');
      await waitFor(async () => (await redis.client.xlen(streams.harvestCalibrated)) === 1, {
        what: 'the proposal calibrated by the build',
      });
      app.child.kill('SIGTERM');
      expect(await app.exited).toBe(0);
    } finally {
      app.child.kill('SIGKILL');
    }
  });

  it('serves the BullMQ dashboard from the build, its UI files read from node_modules', async () => {
    const auth = `Basic ${Buffer.from('ops:correct-horse-battery').toString('base64')}`;
    const app = await startBuilt(join(out, 'app/main.js'), {
      REDIS_URL: redis.url,
      DASHBOARD_USER: 'ops',
      DASHBOARD_PASSWORD: 'correct-horse-battery',
    });
    try {
      const page = await fetch(`${app.base}/admin/queues`, { headers: { authorization: auth } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('quantum-gates');
      const api = (await (await fetch(`${app.base}/admin/queues/api/queues`, { headers: { authorization: auth } })).json()) as {
        queues: { name: string }[];
      };
      expect(api.queues.map((q) => q.name)).toContain('position-index');
      // The board's UI files come from node_modules/@bull-board/ui, found from the bundle.
      const asset = /src="(static\/js\/main\.[^"]+\.js)"/.exec(
        await (await fetch(`${app.base}/admin/queues`, { headers: { authorization: auth } })).text(),
      );
      expect(asset).not.toBeNull();
      const script = await fetch(`${app.base}/admin/queues/${asset![1]}`, { headers: { authorization: auth } });
      expect(script.status).toBe(200);
      expect(script.headers.get('content-type')).toContain('javascript');
      app.child.kill('SIGTERM');
      expect(await app.exited).toBe(0);
    } finally {
      app.child.kill('SIGKILL');
    }
  });

  it('runs the CLI from the build: --version names the build’s commit, a command answers from Redis', async () => {
    const cli = join(out, 'cli/main.js');
    const env = { ...childBaseEnv(), REDIS_URL: redis.url };
    const built = JSON.parse(readFileSync(join(out, 'build-info.json'), 'utf8')) as { version: string; commit: string };
    const version = await run(process.execPath, [cli, '--version'], { cwd: root, env });
    expect(version.stdout.trim()).toBe(`${built.version} (commit ${built.commit})`);
    await redis.client.set('quantum:kill', '1');
    const status = await run(process.execPath, [cli, 'kill', 'status', '--json'], { cwd: root, env });
    expect(JSON.parse(status.stdout)).toMatchObject({ key: 'quantum:kill', value: '1', engaged: true });
    await redis.client.del('quantum:kill');
  });

  it('the bundled CLI refuses to rehearse "." when a source beside its build is newer than the build (exit 2, naming the file)', async () => {
    const changed = join(dirname(out), 'handlers', 'changed.ts');
    mkdirSync(dirname(changed), { recursive: true });
    writeFileSync(changed, 'export {};\n');
    try {
      const refused = run(process.execPath, [join(out, 'cli/main.js'), 'rehearse', '.'], {
        cwd: root,
        env: { ...childBaseEnv(), REDIS_URL: redis.url },
      });
      const result = (await refused.then(
        () => ({ code: 0, stderr: '' }),
        (error: unknown) => error,
      )) as { code: number; stderr: string };
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        'build (dist/) is older than its sources (handlers/changed.ts changed since): run npm run build there first',
      );
    } finally {
      rmSync(dirname(changed), { recursive: true, force: true });
    }
  });

  it('loads no server code for a CLI command: what dist/cli/main.js imports at start holds no fastify, ajv, pino or bullmq', () => {
    // esbuild heads each bundled module with its path (`// node_modules/fastify/lib/route.js`):
    // the files a CLI command compiles at start are main.js and the chunks it imports statically.
    const loaded = new Set<string>();
    const visit = (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      const text = readFileSync(file, 'utf8');
      for (const [, chunk] of text.matchAll(/^(?:import|} from) ?(?:[^"\n]*from )?"(\.\.\/chunks\/[^"]+)";$/gm))
        visit(resolve(file, '..', chunk!));
    };
    visit(join(out, 'cli/main.js'));
    const packages = new Set<string>();
    for (const file of loaded)
      for (const [, name] of readFileSync(file, 'utf8').matchAll(/^\/\/ node_modules\/((?:@[^/\n]+\/)?[^/\n]+)\//gm)) packages.add(name!);

    expect(packages).toContain('ioredis');
    expect([...packages].filter((name) => /^(fastify|@fastify\/.*|ajv|pino|bullmq|prom-client|@bull-board\/.*)$/.test(name))).toEqual([]);
    // `quantum-gates start` runs the gates' own bundle (main.js and chunks/ both sit one folder below dist/).
    expect([...loaded].filter((file) => readFileSync(file, 'utf8').includes('import("../app/main.js")'))).toHaveLength(1);
  });
});
