import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellBlocks, type DocBlock } from '../support/doc-blocks.js';
import { freePort, startTestRedis, type TestRedis } from '../support/redis-server.js';

const root = resolve(import.meta.dirname, '../..');
const GUIDE = 'docs/operations.md';
const DASHBOARD = { DASHBOARD_USER: 'docs-upgrade', DASHBOARD_PASSWORD: 'docs-upgrade-password' } as const;
const AUTH = `Basic ${Buffer.from(`${DASHBOARD.DASHBOARD_USER}:${DASHBOARD.DASHBOARD_PASSWORD}`).toString('base64')}`;
/** What the poller asks the running gates for while a release builds: readiness, the status page, a dashboard file. */
const POLLED = ['/ready', '/', '/admin/queues/static/images/logo.svg'] as const;
// A release's build is three npm runs of about a minute each on the CI machine.
const BLOCK_TIMEOUT_MS = 12 * 60_000;

/**
 * docs/operations.md §1's server blocks (`<!-- docs-run: server -->`): the one-process install,
 * the upgrade and the rollback, run as written by an operator in a checkout, in order. Root's
 * tools and systemd are stood in for by test/support/fake-server.mjs: /opt/quantum-gates is a
 * directory of the test's (scripts/release.sh's QG_BASE), /etc/quantum, /etc/systemd/system and
 * /usr/lib/sysusers.d too; `systemctl enable --now|restart quantum-gates` runs the shipped
 * quantum-gates.service's ExecStart and ExecStartPost through the `current` link; `journalctl -f`
 * returns at once. The checkout is a clone of a clone of this repository, so the upgrade's
 * `git pull` fetches one more commit and builds a second release from it. While the upgrade block
 * builds that release, the running gates are asked for /ready, the status page and a dashboard
 * file every 100 ms: every answer until the restart must be 200.
 */
interface Server {
  readonly redis: TestRedis;
  readonly base: string;
  readonly opt: string;
  readonly origin: string;
  readonly checkout: string;
  readonly state: string;
  readonly port: number;
  readonly env: NodeJS.ProcessEnv;
  readonly rewrite: (script: string) => string;
}

function run(command: string, args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolvePromise, reject) =>
    execFile(command, args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`)) : resolvePromise(stdout),
    ),
  );
}

async function server(): Promise<Server> {
  const redis = await startTestRedis();
  const base = mkdtempSync(join(tmpdir(), 'qg-docs-upgrade-'));
  const dir = (name: string): string => {
    const path = join(base, name);
    mkdirSync(path, { recursive: true });
    return path;
  };
  const [opt, etc, units, sysusers, state, tools] = ['opt', 'etc-quantum', 'etc-systemd-system', 'usr-lib-sysusers.d', 'state', 'bin'].map(
    dir,
  ) as [string, string, string, string, string, string];
  // The operator's checkout, cloned from a clone of this repository that the upgrade moves on.
  const origin = join(base, 'origin');
  const checkout = join(base, 'checkout');
  await run('git', ['clone', '--quiet', root, origin], base);
  await run('git', ['clone', '--quiet', origin, checkout], base);
  const fake = join(root, 'test/support/fake-server.mjs');
  for (const tool of ['sudo', 'install', 'sudoedit', 'systemctl', 'journalctl', 'systemd-sysusers']) {
    writeFileSync(join(tools, tool), `#!/bin/sh\nexec "${process.execPath}" "${fake}" ${tool} "$@"\n`);
    chmodSync(join(tools, tool), 0o755);
  }
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    HOME: process.env.HOME ?? '/tmp',
    PATH: `${tools}:${process.env.PATH ?? ''}`,
    USER: 'docs-upgrade',
    QG_BASE: opt,
    FAKE_SERVER_OPT: opt,
    FAKE_SERVER_ETC: etc,
    // /etc/quantum as the CLI finds it (release.sh's rehearsal reads the units' env file there): on
    // a server it is that directory; here the stand-in's. Without it the rehearsal read whatever
    // answered on 127.0.0.1:6379 and, finding no tape, passed silently until it learnt to refuse.
    QG_ENV_DIR: etc,
    FAKE_SERVER_UNITS: units,
    FAKE_SERVER_SYSUSERS: sysusers,
    FAKE_SERVER_STATE: state,
    // Unused with FAKE_SERVER_OPT (every /opt/quantum-gates path is a release's), required by the stand-in.
    FAKE_SERVER_ROOT: join(opt, 'current'),
    FAKE_SERVER_DIST: join(opt, 'current/dist'),
    FAKE_SERVER_PORTS: JSON.stringify({ '8080': String(port) }),
    FAKE_SERVER_EDITS: JSON.stringify({ 'quantum-gates.env': { REDIS_URL: redis.url, ...DASHBOARD } }),
  };
  const rewrite = (script: string): string =>
    script
      .replaceAll('/usr/lib/sysusers.d', sysusers)
      .replaceAll('/etc/systemd/system', units)
      .replaceAll('/etc/quantum', etc)
      .replaceAll('/opt/quantum-gates', opt);
  return { redis, base, opt, origin, checkout, state, port, env, rewrite };
}

function runBlock(block: DocBlock, s: Server): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', s.rewrite(block.script)], {
      cwd: s.checkout,
      env: s.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('close', (code) => resolvePromise({ code, output }));
  });
}

/** The unit's log, for a failure's message. */
function unitLog(s: Server): string {
  const log = join(s.state, 'quantum-gates.log');
  return existsSync(log) ? readFileSync(log, 'utf8').slice(-3000) : '(no log)';
}

const currentRelease = (s: Server): string => basename(readlinkSync(join(s.opt, 'current')));

/** The commit the running gates were built from, as their status says it. */
async function runningCommit(s: Server): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${s.port}/status`, { headers: { authorization: AUTH } });
  const status = (await response.json()) as { build: { commit: string } };
  return status.build.commit;
}

/** Asks the running gates for POLLED every 100 ms until `systemctl restart` is run; returns every answer that was not 200. */
function pollUntilRestart(s: Server): { stop: () => Promise<{ asked: number; failed: string[] }> } {
  const commands = join(s.state, 'commands.log');
  const restarting = (): boolean => existsSync(commands) && readFileSync(commands, 'utf8').includes('systemctl restart');
  let asked = 0;
  const failed: string[] = [];
  let pending = Promise.resolve();
  const tick = (): void => {
    if (restarting()) return;
    pending = pending.then(async () => {
      for (const path of POLLED) {
        if (restarting()) return;
        const answer = await fetch(`http://127.0.0.1:${s.port}${path}`, { headers: { authorization: AUTH } }).catch(() => undefined);
        // An answer cut by the restart itself does not count: the restart is the documented gap.
        if (restarting()) return;
        asked++;
        if (answer?.status !== 200) failed.push(`${path}: ${answer?.status ?? 'no answer'}`);
      }
    });
  };
  const timer = setInterval(tick, 100);
  return {
    stop: async () => {
      clearInterval(timer);
      await pending;
      return { asked, failed };
    },
  };
}

describe(`${GUIDE} §1 on a server: install, upgrade and rollback, run as written`, () => {
  const blocks = shellBlocks(readFileSync(join(root, GUIDE), 'utf8')).filter((b) => b.server);
  let s: Server;
  let releaseA: string;

  beforeAll(async () => {
    s = await server();
  }, 60_000);

  afterAll(async () => {
    if (s === undefined) return;
    // systemctl stop, as the stand-in runs it (SIGTERM, waited for).
    await new Promise<void>((resolvePromise, reject) =>
      execFile(
        process.execPath,
        [join(root, 'test/support/fake-server.mjs'), 'systemctl', 'stop', 'quantum-gates'],
        { env: s.env },
        (error) => (error ? reject(error) : resolvePromise()),
      ),
    ).catch(() => undefined);
    await s.redis.stop();
    // Two releases' node_modules: retried, as a file still being closed makes a directory briefly not empty.
    rmSync(s.base, { recursive: true, force: true, maxRetries: 5 });
    // The unit's TimeoutStopSec (30 s) before its SIGKILL, and the rest on a loaded machine.
  }, 120_000);

  it('has the three server blocks: install, upgrade, rollback', () => {
    expect(blocks.map((b) => b.script.includes('release.sh install') || b.script.includes('switch previous'))).toEqual([true, true, true]);
    expect(blocks[1]!.script).toContain('git pull');
    expect(blocks[2]!.script).toContain('switch previous');
  });

  it(
    'the install block builds a release, switches to it and starts the unit on it',
    async () => {
      const { code, output } = await runBlock(blocks[0]!, s);
      expect(code, `${GUIDE}:${blocks[0]!.line} exited ${code}:\n${output}\n--- unit log ---\n${unitLog(s)}`).toBe(0);
      releaseA = currentRelease(s);
      // The release's `npm prune --omit=dev` dropped the development tools (what .ci/install-smoke checked).
      for (const devTool of ['vitest', 'tsx']) expect(existsSync(join(s.opt, 'current/node_modules', devTool)), devTool).toBe(false);
      // And left the lock file's production tree whole: nothing missing, nothing extraneous (npm ls exits 1 on either).
      await run('npm', ['ls', '--omit=dev', '--all', '--silent'], join(s.opt, 'current'));
      expect(releaseA.endsWith(await runningCommit(s))).toBe(true);
      // Named by its time (so the names sort), its package.json version and its commit.
      const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
      expect(releaseA).toMatch(new RegExp(`^\\d{8}T\\d{6}Z-${version.replaceAll('.', '\\.')}-[0-9a-f]{12}$`));
    },
    BLOCK_TIMEOUT_MS,
  );

  it(
    'the upgrade block builds the pulled commit while the gates keep answering, then runs it',
    async () => {
      await run(
        'git',
        [
          '-c',
          'user.name=docs-upgrade',
          '-c',
          'user.email=docs-upgrade@localhost',
          'commit',
          '--quiet',
          '--allow-empty',
          '-m',
          'docs-upgrade: the next release',
        ],
        s.origin,
      );
      const next = (await run('git', ['rev-parse', '--short=12', 'HEAD'], s.origin)).trim();
      const poller = pollUntilRestart(s);
      const { code, output } = await runBlock(blocks[1]!, s);
      const polled = await poller.stop();
      expect(code, `${GUIDE}:${blocks[1]!.line} exited ${code}:\n${output}\n--- unit log ---\n${unitLog(s)}`).toBe(0);
      expect(polled.asked, 'answers asked for while release B built').toBeGreaterThan(0);
      expect(polled.failed, 'answers other than 200 while release B built').toEqual([]);
      const releaseB = currentRelease(s);
      expect(releaseB).not.toBe(releaseA);
      expect(releaseB.endsWith(next)).toBe(true);
      // Its install copied A's (the same lock file, Node and npm: scripts/release.sh, install_dependencies),
      // pruned to the lock file's production tree as A's was: nothing missing, nothing extraneous.
      await run('npm', ['ls', '--omit=dev', '--all', '--silent'], join(s.opt, 'current'));
      for (const devTool of ['vitest', 'tsx']) expect(existsSync(join(s.opt, 'current/node_modules', devTool)), devTool).toBe(false);
      // The block's last line: --version names the release now current.
      expect(output).toContain(releaseB);
      expect(await runningCommit(s)).toBe(next);
    },
    BLOCK_TIMEOUT_MS,
  );

  it('the rollback block runs release A again', async () => {
    const { code, output } = await runBlock(blocks[2]!, s);
    expect(code, `${GUIDE}:${blocks[2]!.line} exited ${code}:\n${output}\n--- unit log ---\n${unitLog(s)}`).toBe(0);
    expect(currentRelease(s)).toBe(releaseA);
    expect(releaseA.endsWith(await runningCommit(s))).toBe(true);
    expect(output).toMatch(/\(current\)/);
  }, 60_000);
});
