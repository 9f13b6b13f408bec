import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streams } from '../../schemas/keys.js';
import { documentedOutcomes, placeholderLines, shellBlocks, type DocBlock, type DocumentedOutcome } from '../support/doc-blocks.js';
import { freePortBelowEphemeral, startTestRedis, type TestRedis } from '../support/redis-server.js';
import { readStream, waitFor } from '../support/runtime.js';
import { isolatedEnv } from '../support/own-dirs.js';
import { untilReady, untilServing } from '../support/serving.js';

const root = resolve(import.meta.dirname, '../..');
const DOCS = ['README.md', 'docs/operations.md'] as const;

/**
 * Every ```sh block of the README and the operations guide, run as an operator would run it:
 * in order, in bash, in the checkout, against gates started with `npm start` on a private
 * redis-server, with `npx quantum-gates` being this checkout's CLI (as npx makes it there, and
 * only there) and `localhost:8080` the gates' address. A bare `quantum-gates` is not on the PATH
 * of a checkout, so a block that types it fails. Each block starts once the gates have read what
 * the blocks before it wrote, as an operator reading the text between them would. A block fails the test when a command in it fails, or when a command's comment
 * promises an outcome (`# → PARTIAL_25` on an inject proposal, `# permit: close_bypass` or
 * `# block: reason` on an inject plan) that is not what the gates decided. A block may only be
 * left out with `<!-- docs-run: skip: why -->` above it, and the skips are listed below. A block
 * that needs other settings says so with `<!-- docs-run: gates: NAME=value ... -->` above it and
 * runs against gates of its own, started with them on a Redis of its own. A block marked
 * `<!-- docs-run: per-gate -->` is §1's one process per gate: it runs as the server's operator
 * runs it (see perGateDeployment), and the blocks after it so marked run against those instances.
 * No block may hold a placeholder (`...`, `…`): what the docs show is what an operator types.
 * Blocks marked `<!-- docs-run: server -->` (§1's server install, upgrade and rollback) build real
 * releases, minutes each, so test/integration/docs-upgrade.test.ts runs them instead.
 */
const ALLOWED_SKIPS: Record<string, RegExp> = {
  'README.md': /the quick start/,
  // What needs root and systemd runs through stand-ins: the per-gate deployment here, the server
  // install, upgrade and rollback in docs-upgrade.test.ts. Only the quick start's npm ci is left out.
  'docs/operations.md': /npm ci/,
};

/** Pairs of an XINFO reply (`[name, value, name, value, ...]`) as a record. */
function infoRecord(reply: unknown): Record<string, unknown> {
  const list = reply as unknown[];
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) record[String(list[i])] = list[i + 1];
  return record;
}

/**
 * Resolves once every consumer group on every stream has been delivered the stream's last entry
 * and acknowledged all it was delivered: the gates have read what the blocks wrote. Nothing is
 * written to the guide's examples; the next block sees the gates' decisions as an operator would.
 */
async function untilGatesRead(redis: TestRedis): Promise<void> {
  const r = redis.client;
  await waitFor(
    async () => {
      const unread: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'COUNT', 1000, 'TYPE', 'stream');
        cursor = next;
        for (const key of keys) {
          const groups = ((await r.xinfo('GROUPS', key)) as unknown[]).map(infoRecord);
          if (groups.length === 0) continue;
          const last = String(infoRecord(await r.xinfo('STREAM', key))['last-generated-id']);
          for (const group of groups)
            if (String(group['last-delivered-id']) !== last || Number(group.pending) !== 0) unread.push(`${key} ${String(group.name)}`);
        }
      } while (cursor !== '0');
      return unread.length === 0 ? true : undefined;
    },
    { timeoutMs: 30_000, what: 'the gates to read and acknowledge every entry the blocks wrote' },
  );
}

/** Files the blocks write into the checkout (`> shadow.csv`), to put back as they were afterwards. */
function filesWritten(blocks: readonly DocBlock[]): string[] {
  const names = blocks.flatMap((b) => [...b.script.matchAll(/>\s*([\w][\w.-]*)/g)].map((m) => m[1]!));
  return [...new Set(names)];
}

interface Gates {
  readonly process: ChildProcess;
  readonly address: string;
  readonly port: number;
  readonly output: () => string;
}

/** `npm start`, the README's first command, against the private Redis (with a block's own settings, if it names any). */
async function startGates(redis: TestRedis, settings: Readonly<Record<string, string>> = {}): Promise<Gates> {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: root,
    env: {
      HOME: process.env.HOME ?? '/tmp',
      PATH: process.env.PATH ?? '',
      ...settings,
      REDIS_URL: redis.url,
      PORT: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const port = await untilServing(child, 60_000);
  const address = `http://127.0.0.1:${port}`;
  await untilReady(port, { timeoutMs: 60_000, what: `npm start to be ready:\n${output}` });
  return { process: child, address, port, output: () => output };
}

/**
 * A directory put first on PATH: its `npx quantum-gates` runs this checkout's CLI as npx does, in
 * the checkout only (anywhere else npx would fetch the public registry's package of that name),
 * and its `quantum-gates` fails as a checkout's shell does, whatever this machine has linked.
 */
function cliShims(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qg-docs-'));
  const cli = `exec "${process.execPath}" "${join(root, 'bin/quantum-gates.js')}" "$@"`;
  writeFileSync(
    join(dir, 'quantum-gates'),
    `#!/bin/sh\necho "docs-run: quantum-gates: command not found (not on the PATH in a checkout: write npx quantum-gates)" >&2; exit 127\n`,
  );
  writeFileSync(
    join(dir, 'npx'),
    [
      '#!/bin/sh',
      `case "$PWD/" in "${root}/"*) ;; *) echo "docs-run: npx $1 outside the checkout would fetch it from the public registry" >&2; exit 127 ;; esac`,
      `if [ "$1" = quantum-gates ]; then shift; ${cli}; fi`,
      'echo "docs-run: npx $1 is not part of the documented commands" >&2; exit 127',
      '',
    ].join('\n'),
  );
  for (const name of ['quantum-gates', 'npx']) chmodSync(join(dir, name), 0o755);
  return dir;
}

/**
 * §1's per-gate deployment on this machine: the env files installed into a directory standing in
 * for /etc/quantum (the CLI finds it as $QG_ENV_DIR, a documented variable), the units into one
 * standing in for /etc/systemd/system, and `sudo`, `install`, `sudoedit` and `systemctl` stood in
 * for by test/support/fake-server.mjs, which starts each instance from the shipped unit files on
 * the compiled build (bundled here as `npm run build` bundles it, into a folder of the test's own
 * so dist/ is never pulled from under the CLI tests running alongside). The operator's edits are
 * the private Redis and dashboard credentials (sudoedit), and the only setting beyond them a
 * first outcome horizon of 2 s, so the outcomes instance has a sample to report within the test.
 */
interface PerGateDeployment {
  readonly redis: TestRedis;
  readonly etc: string;
  readonly units: string;
  readonly state: string;
  readonly build: string;
  readonly tools: string;
  readonly env: Readonly<Record<string, string>>;
}

const DASHBOARD = { DASHBOARD_USER: 'docs-run', DASHBOARD_PASSWORD: 'docs-run-password' } as const;

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolvePromise, reject) =>
    execFile(command, args, { cwd: root, env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`)) : resolvePromise(stdout),
    ),
  );
}

async function perGateDeployment(): Promise<PerGateDeployment> {
  const redis = await startTestRedis();
  const base = mkdtempSync(join(tmpdir(), 'qg-per-gate-'));
  const [etc, units, state, tools] = ['etc-quantum', 'etc-systemd-system', 'state', 'bin'].map((d) => join(base, d)) as [
    string,
    string,
    string,
    string,
  ];
  for (const dir of [etc, units, state, tools]) mkdirSync(dir);
  mkdirSync(join(root, 'test-artifacts'), { recursive: true });
  const build = mkdtempSync(join(root, 'test-artifacts', 'docs-run-build-'));
  await run(process.execPath, ['scripts/bundle.mjs', relative(root, build)]);
  await run(process.execPath, ['scripts/write-build-info.mjs', relative(root, build)]);
  // Every port the shipped per-gate files name, moved to a free one.
  const documented = new Set<string>();
  for (const file of readdirSync(join(root, 'deploy/env')).filter((f) => f.startsWith('gates-')))
    for (const [, port] of readFileSync(join(root, 'deploy/env', file), 'utf8').matchAll(/^(?:PORT|P27_HEALTH_PORT)=(\d+)$/gm))
      documented.add(port!);
  const ports: Record<string, string> = {};
  for (const port of documented) {
    let free: string;
    do free = String(await freePortBelowEphemeral());
    while (Object.values(ports).includes(free));
    ports[port] = free;
  }
  const server = join(root, 'test/support/fake-server.mjs');
  for (const tool of ['sudo', 'install', 'sudoedit', 'systemctl']) {
    writeFileSync(join(tools, tool), `#!/bin/sh\nexec "${process.execPath}" "${server}" ${tool} "$@"\n`);
    chmodSync(join(tools, tool), 0o755);
  }
  const env = {
    FAKE_SERVER_ETC: etc,
    FAKE_SERVER_UNITS: units,
    FAKE_SERVER_STATE: state,
    FAKE_SERVER_ROOT: root,
    FAKE_SERVER_DIST: build,
    FAKE_SERVER_PORTS: JSON.stringify(ports),
    FAKE_SERVER_EDITS: JSON.stringify({ 'gates-common.env': { REDIS_URL: redis.url, ...DASHBOARD } }),
    FAKE_SERVER_SETTINGS: JSON.stringify({ 'gates-outcomes.env': { OUTCOME_HORIZONS: '2s,5m' } }),
    QG_ENV_DIR: etc,
    // Never the checkout's: with a unit env file found, a running npm start of the checkout would make the CLI's writes refuse.
    QG_DATA_DIR: isolatedEnv().QG_DATA_DIR,
  };
  return { redis, etc, units, state, build, tools, env };
}

/** Stops the instances the stand-in systemctl started (SIGTERM, as systemd stops them) and removes the deployment. */
async function stopPerGate(deployment: PerGateDeployment): Promise<void> {
  const pids = existsSync(deployment.state)
    ? readdirSync(deployment.state)
        .filter((f) => f.endsWith('.pid'))
        .map((f) => Number(readFileSync(join(deployment.state, f), 'utf8')))
    : [];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  await waitFor(
    () =>
      pids.every((pid) => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      }),
    { timeoutMs: 30_000, what: 'the per-gate instances to stop' },
  );
  await deployment.redis.stop();
  rmSync(join(deployment.etc, '..'), { recursive: true, force: true });
  rmSync(deployment.build, { recursive: true, force: true });
}

/** The instances' logs, for a failure's message. */
function instanceLogs(deployment: PerGateDeployment): string {
  const logs = readdirSync(deployment.state).filter((f) => f.endsWith('.log'));
  return logs.map((f) => `--- ${f} ---\n${readFileSync(join(deployment.state, f), 'utf8').slice(-1500)}`).join('\n');
}

/** A per-gate block as the server's operator runs it: in the checkout, root's tools stood in for, the CLI finding the env files. */
function runPerGateBlock(block: DocBlock, deployment: PerGateDeployment, shims: string): Promise<{ code: number | null; output: string }> {
  const script = block.script.replaceAll('/etc/systemd/system', deployment.units).replaceAll('/etc/quantum', deployment.etc);
  return runScript(script, root, {
    HOME: process.env.HOME ?? '/tmp',
    PATH: `${deployment.tools}:${shims}:${process.env.PATH ?? ''}`,
    USER: 'docs-run',
    ...deployment.env,
  });
}

function runScript(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('close', (code) => resolvePromise({ code, output }));
  });
}

function runBlock(block: DocBlock, gates: Gates, redis: TestRedis, shims: string): Promise<{ code: number | null; output: string }> {
  const script = block.script.replace(/\b(?:localhost|127\.0\.0\.1):8080\b/g, `127.0.0.1:${gates.port}`);
  return runScript(script, root, {
    HOME: process.env.HOME ?? '/tmp',
    PATH: `${shims}:${process.env.PATH ?? ''}`,
    ...isolatedEnv(),
    REDIS_URL: redis.url,
    PORT: String(gates.port),
    QG_URL: gates.address,
    LOG_LEVEL: 'silent',
    USER: 'docs-run',
  });
}

/** What the gates decided for a documented outcome's plan, as one line for the assertion. */
async function decided(redis: TestRedis, outcome: DocumentedOutcome): Promise<string> {
  const r = redis.client;
  if (outcome.kind === 'calibrated') {
    const entry = await waitFor(async () => (await readStream(r, streams.heatDecision)).find((e) => e.plan_id === outcome.planId), {
      what: `a heat decision for ${outcome.planId}`,
    });
    return `→ ${entry.out_action}`;
  }
  const verdict = await waitFor(
    async () =>
      (await r.exists(`quantum:permit:${outcome.planId}`))
        ? 'permit'
        : (await r.exists(`quantum:governor:block:${outcome.planId}`))
          ? 'block'
          : undefined,
    { what: `a governor verdict for ${outcome.planId}` },
  );
  const events = (await readStream(r, streams.governorEvents)).filter((e) => e.plan_id === outcome.planId);
  const record =
    verdict === 'block' ? await r.get(`quantum:governor:block:${outcome.planId}`) : await r.get(`quantum:permit:${outcome.planId}`);
  const text = `${record ?? ''} ${events.map((e) => Object.values(e).join(' ')).join(' ')}`;
  const reason = new RegExp(`\\b${outcome.reason}\\b`).test(text) ? outcome.reason : `(not ${outcome.reason}: ${text.slice(0, 300)})`;
  return `${verdict}: ${reason}`;
}

function promised(outcome: DocumentedOutcome): string {
  return outcome.kind === 'calibrated' ? `→ ${outcome.action}` : `${outcome.verdict}: ${outcome.reason}`;
}

describe.each(DOCS)('the commands of %s, run as written', (doc) => {
  const blocks = shellBlocks(readFileSync(join(root, doc), 'utf8'));
  let redis: TestRedis;
  let gates: Gates;
  let shims: string;
  /** What the checkout held under the names the blocks write to, put back after them. */
  const written = new Map<string, string | undefined>();
  /** §1's per-gate deployment, set up before its first block runs. */
  let perGate: PerGateDeployment | undefined;

  beforeAll(async () => {
    redis = await startTestRedis();
    gates = await startGates(redis);
    shims = cliShims();
    for (const name of filesWritten(blocks))
      written.set(name, existsSync(join(root, name)) ? readFileSync(join(root, name), 'utf8') : undefined);
  }, 90_000);
  afterAll(async () => {
    if (perGate) await stopPerGate(perGate);
    gates?.process.kill('SIGTERM');
    await redis?.stop();
    if (shims) rmSync(shims, { recursive: true, force: true });
    for (const [name, before] of written)
      if (before === undefined) rmSync(join(root, name), { force: true });
      else writeFileSync(join(root, name), before);
  });

  it('has blocks, and skips only those that need a server or are the quick start itself', () => {
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks.filter((b) => b.skip !== undefined)) expect(block.skip, `${doc}:${block.line}`).toMatch(ALLOWED_SKIPS[doc]!);
  });

  it('has no placeholder in any block, run or skipped: each is what an operator types', () => {
    const found = blocks.flatMap((b) => placeholderLines(b.script).map((line) => `${doc}:${b.line}: ${line.trim()}`));
    expect(found).toEqual([]);
  });

  // One test per block, in document order: later blocks build on what earlier ones did. §1's
  // server blocks build real releases and run in docs-upgrade.test.ts.
  it.each(blocks.filter((b) => b.skip === undefined && !b.server).map((b) => [b.line, b] as const))(
    'the block at line %i succeeds and does what its comments say',
    async (_line, block) => {
      const outcomes = documentedOutcomes(block.script);
      if (block.perGate) {
        perGate ??= await perGateDeployment();
        const { code, output } = await runPerGateBlock(block, perGate, shims);
        expect(code, `${doc}:${block.line} exited ${code}:\n${block.script}\n--- output ---\n${output}\n${instanceLogs(perGate)}`).toBe(0);
        for (const outcome of outcomes)
          expect(await decided(perGate.redis, outcome), `${doc}:${block.line}: ${outcome.line}`).toBe(promised(outcome));
        return;
      }
      // A block that names settings of its own runs against gates of its own, on a Redis of its own.
      const own = block.gatesEnv === undefined ? undefined : await startTestRedis();
      const ownGates = own === undefined ? undefined : await startGates(own, block.gatesEnv);
      const [blockRedis, blockGates] = own !== undefined && ownGates !== undefined ? [own, ownGates] : [redis, gates];
      try {
        const { code, output } = await runBlock(block, blockGates, blockRedis, shims);
        expect(
          code,
          `${doc}:${block.line} exited ${code}:\n${block.script}\n--- output ---\n${output}\n--- gates ---\n${blockGates.output().slice(-2000)}`,
        ).toBe(0);
        for (const outcome of outcomes)
          expect(await decided(blockRedis, outcome), `${doc}:${block.line}: ${outcome.line}`).toBe(promised(outcome));
        // The next block reads what the gates made of this one's (the dead letter §5's drill makes).
        if (own === undefined) await untilGatesRead(redis);
      } finally {
        ownGates?.process.kill('SIGTERM');
        await own?.stop();
      }
    },
    // The per-gate block builds the bundle and starts six processes on 2 shared cores.
    120_000,
  );

  // What the per-gate blocks promise beyond their exit codes: one status across the instances,
  // and the outcomes instance's work in `report outcomes`, both through the env files. Only a
  // guide with such blocks has this test (the README has none): no test is left skipped.
  const itWithPerGate = blocks.some((b) => b.perGate && b.skip === undefined) ? it : undefined;
  itWithPerGate?.('the per-gate deployment: six processes, one status across them, the outcomes instance followed the block', async () => {
    const deployment = perGate!;
    const cli = (...args: string[]) =>
      run(process.execPath, [join(root, 'bin/quantum-gates.js'), ...args], {
        HOME: process.env.HOME ?? '/tmp',
        PATH: process.env.PATH ?? '',
        ...deployment.env,
      });
    const status = JSON.parse(await cli('status', '--json')) as {
      gates: { name: string }[];
      instances: { name: string; error: string | null; gates: string[]; instance: { port: number } | null }[];
      kill_switch?: unknown;
    };
    // The target as the blocks left it: §4's complete removal of P2.8 takes risk-budget out of it.
    const target = readFileSync(join(deployment.units, 'quantum-gates.target'), 'utf8');
    const wanted = [...target.matchAll(/quantum-gates@([a-z-]+)\.service/g)].map((m) => m[1]!).sort();
    expect(wanted).not.toContain('risk-budget');
    expect(status.instances.map((i) => i.name)).toEqual(wanted);
    expect(status.instances.filter((i) => i.error !== null)).toEqual([]);
    // Each gate's row from the process that hosts it: the governor's from the governor instance.
    expect(status.instances.find((i) => i.name === 'governor')?.gates).toContain('governor');
    expect(status.instances.find((i) => i.name === 'heat-gate')?.gates).toEqual(['heat-gate']);
    expect(new Set(status.gates.map((g) => g.name)).size).toBe(status.gates.length);
    expect(status.gates.map((g) => g.name)).toEqual(
      expect.arrayContaining(['position-snapshot', 'heat-gate', 'heat-bridge', 'governor', 'outcome-governor']),
    );
    expect(status).toHaveProperty('kill_switch');
    const text = await cli('status');
    // One line per instance (the host that answered, its port), one kill switch line: sections once.
    for (const name of wanted) expect(text).toMatch(new RegExp(`^${name} +\\S+:\\d+ `, 'm'));
    expect(text.match(/^kill switch /gm)).toHaveLength(1);

    // The governor's blocks of opens the per-gate blocks made are followed to a sample at the 2 s horizon.
    const blocked = blocks
      .filter((b) => b.perGate)
      .flatMap((b) => documentedOutcomes(b.script))
      .flatMap((o) => (o.kind === 'governor' && o.verdict === 'block' ? [o.planId] : []));
    expect(blocked.length).toBeGreaterThan(0);
    await waitFor(
      async () => (await readStream(deployment.redis.client, streams.gatesOutcome)).some((e) => blocked.includes(e.plan_id ?? '')),
      { timeoutMs: 30_000, what: `a sample of ${blocked.join(', ')} on ${streams.gatesOutcome}\n${instanceLogs(deployment)}` },
    );
    const report = JSON.parse(await cli('report', 'outcomes', '--since', '1h', '--json')) as { samples: number };
    expect(report.samples).toBeGreaterThan(0);
  });
});
