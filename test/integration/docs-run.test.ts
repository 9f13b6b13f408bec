import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterFields } from '../../runtime/dead-letter.js';
import { streams } from '../../schemas/keys.js';
import { documentedOutcomes, shellBlocks, type DocBlock, type DocumentedOutcome } from '../support/doc-blocks.js';
import { freePort, startTestRedis, type TestRedis } from '../support/redis-server.js';
import { readStream, waitFor } from '../support/runtime.js';

const root = resolve(import.meta.dirname, '../..');
const DOCS = ['README.md', 'docs/operations.md'] as const;

/**
 * Every ```sh block of the README and the operations guide, run as an operator would run it:
 * in order, in bash, against gates started with `npm start` on a private redis-server, with
 * `quantum-gates` and `npx quantum-gates` being this checkout's CLI and `localhost:8080` the
 * gates' address. A block fails the test when a command in it fails, or when a command's comment
 * promises an outcome (`# → PARTIAL_25` on an inject proposal, `# permit: close_bypass` or
 * `# block: reason` on an inject plan) that is not what the gates decided. A block may only be
 * left out with `<!-- docs-run: skip: why -->` above it, and the skips are listed below. A block
 * that needs other settings says so with `<!-- docs-run: gates: NAME=value ... -->` above it and
 * runs against gates of its own, started with them on a Redis of its own.
 */
const ALLOWED_SKIPS: Record<string, RegExp> = {
  'README.md': /the quick start/,
  'docs/operations.md': /systemd|npm install|\.ci\/install-smoke/,
};

/**
 * What a guide's examples name that an operator would already have: the dead letter whose id the
 * dead-letter section uses (a proposal the heat gate gave up on). Written with the runtime's own
 * dead-letter format before the guide's blocks run.
 */
async function givenWhatTheGuideNames(doc: string, redis: TestRedis): Promise<void> {
  if (doc !== 'docs/operations.md') return;
  const fields = deadLetterFields({
    handler: 'heat-gate',
    sourceStream: streams.harvestProposal,
    sourceId: '1769581931990-0',
    group: 'p26_heat_gate',
    reason: 'handler_failed',
    detail: 'Error: Connection is closed.',
    attempts: 3,
    raw: { symbol: 'ETHUSDT', action: 'FULL_CLOSE', plan_id: 'dlq-example', timestamp: '1769581931' },
    at: 1769581932000,
  });
  await redis.client.xadd(streams.deadLetter, '1769581932000-0', ...Object.entries(fields).flat());
}

interface Gates {
  readonly process: ChildProcess;
  readonly address: string;
  readonly port: number;
  readonly output: () => string;
}

/** `npm start`, the README's first command, against the private Redis (with a block's own settings, if it names any). */
async function startGates(redis: TestRedis, settings: Readonly<Record<string, string>> = {}): Promise<Gates> {
  const port = await freePort();
  const child = spawn('npm', ['start', '--silent'], {
    cwd: root,
    env: {
      HOME: process.env.HOME ?? '/tmp',
      PATH: process.env.PATH ?? '',
      ...settings,
      REDIS_URL: redis.url,
      PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const address = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${address}/ready`).catch(() => undefined))?.status === 200, {
    timeoutMs: 60_000,
    what: `npm start to be ready:\n${output}`,
  });
  return { process: child, address, port, output: () => output };
}

/** A directory whose `quantum-gates` and `npx` run this checkout's CLI, put first on PATH. */
function cliShims(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qg-docs-'));
  const cli = `exec "${process.execPath}" "${join(root, 'bin/quantum-gates.js')}" "$@"`;
  writeFileSync(join(dir, 'quantum-gates'), `#!/bin/sh\n${cli}\n`);
  writeFileSync(
    join(dir, 'npx'),
    `#!/bin/sh\nif [ "$1" = quantum-gates ]; then shift; ${cli}; fi\necho "docs-run: npx $1 is not part of the documented commands" >&2; exit 127\n`,
  );
  for (const name of ['quantum-gates', 'npx']) chmodSync(join(dir, name), 0o755);
  return dir;
}

function runBlock(
  block: DocBlock,
  gates: Gates,
  redis: TestRedis,
  shims: string,
  cwd: string,
): Promise<{ code: number | null; output: string }> {
  const script = block.script.replace(/\b(?:localhost|127\.0\.0\.1):8080\b/g, `127.0.0.1:${gates.port}`);
  return new Promise((resolvePromise) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      cwd,
      env: {
        HOME: process.env.HOME ?? '/tmp',
        PATH: `${shims}:${process.env.PATH ?? ''}`,
        REDIS_URL: redis.url,
        PORT: String(gates.port),
        QG_URL: gates.address,
        LOG_LEVEL: 'silent',
        USER: 'docs-run',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('close', (code) => resolvePromise({ code, output }));
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
  let cwd: string;

  beforeAll(async () => {
    redis = await startTestRedis();
    gates = await startGates(redis);
    await givenWhatTheGuideNames(doc, redis);
    shims = cliShims();
    cwd = mkdtempSync(join(tmpdir(), 'qg-docs-cwd-'));
  }, 90_000);
  afterAll(async () => {
    gates?.process.kill('SIGTERM');
    await redis?.stop();
    for (const dir of [shims, cwd]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has blocks, and skips only those that need a server or are the quick start itself', () => {
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks.filter((b) => b.skip !== undefined)) expect(block.skip, `${doc}:${block.line}`).toMatch(ALLOWED_SKIPS[doc]!);
  });

  // One test per block, in document order: later blocks build on what earlier ones did.
  it.each(blocks.filter((b) => b.skip === undefined).map((b) => [b.line, b] as const))(
    'the block at line %i succeeds and does what its comments say',
    async (_line, block) => {
      const outcomes = documentedOutcomes(block.script);
      // A block that names settings of its own runs against gates of its own, on a Redis of its own.
      const own = block.gatesEnv === undefined ? undefined : await startTestRedis();
      const ownGates = own === undefined ? undefined : await startGates(own, block.gatesEnv);
      const [blockRedis, blockGates] = own !== undefined && ownGates !== undefined ? [own, ownGates] : [redis, gates];
      try {
        const { code, output } = await runBlock(block, blockGates, blockRedis, shims, cwd);
        expect(
          code,
          `${doc}:${block.line} exited ${code}:\n${block.script}\n--- output ---\n${output}\n--- gates ---\n${blockGates.output().slice(-2000)}`,
        ).toBe(0);
        for (const outcome of outcomes)
          expect(await decided(blockRedis, outcome), `${doc}:${block.line}: ${outcome.line}`).toBe(promised(outcome));
      } finally {
        ownGates?.process.kill('SIGTERM');
        await own?.stop();
      }
    },
  );
});
