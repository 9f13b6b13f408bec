import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keys, streams } from '../../schemas/keys.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { classifyRedisError } from '../../runtime/engine/redis-errors.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { createTestRuntime, metricSum, pendingCount, produce, readStream, readyAt, waitFor } from '../support/runtime.js';

const source = resolve(import.meta.dirname, '../support/redis-module/refusing-module.c');
const built = mkdtempSync(join(tmpdir(), 'qg-redis-module-'));
const module = join(built, 'refusing-module.so');
const REFUSED_KEY = keys.harvestProposal('BADUSDT');
const SYMBOLS = ['BADUSDT', ...Array.from({ length: 20 }, (_, i) => `OK${i}USDT`)];

/** Compiles the module with the machine's C compiler; without one the test fails naming it (.ci/run installs gcc). */
function compileModule(): Promise<void> {
  return new Promise((resolvePromise, reject) =>
    execFile('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', '-o', module, source], (error, _stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT')
        reject(new Error('gcc is not installed: this test compiles a Redis module (apt-get install gcc libc6-dev, as .ci/run does)'));
      else if (error) reject(new Error(`gcc could not compile ${source}: ${stderr}`));
      else resolvePromise();
    }),
  );
}

/**
 * Issue #71 item 4, a module's error seen live: a redis-server with a module loaded
 * (test/support/redis-module/refusing-module.c) whose command filter turns one command on one key
 * into the module's own, which answers `ERR qgrefuse: ... is not allowed by this server's policy`,
 * as a policy module would. runtime/contract/redis-refusals.ts calls it `other` (in an unprotected
 * script call, `script`): the module's judgement of the command and its key, nothing that passes by
 * itself, so /ready does not say Redis is down. A refused write holds its message whatever the
 * refusal (runtime/engine/commit-loop.ts, holdRefused), and /ready names the key and the module's
 * words until a commit writes it: nothing is given up or dead-lettered, the rest of the stream
 * moves on. Not yet so: the held message's earlier writes are applied again at each try (below).
 */
describe('a Redis module’s error, live (a command filter refusing one write)', () => {
  beforeAll(compileModule, 60_000);
  const redis = usePrivateRedis({ extraArgs: ['--loadmodule', module] });
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await redis.client.call('qgrefuse.clear');
    await runtime?.stop();
    runtime = undefined;
  });
  afterAll(() => rmSync(built, { recursive: true, force: true }));

  it('its words, as a client and as a script meet them: the message’s (other, script), never Redis’s state', async () => {
    await redis.client.call('qgrefuse.set', 'HSET', 'k');
    const asClient = await redis.client.hset('k', 'f', 'v').then(
      () => new Error('accepted'),
      (e: unknown) => e as Error,
    );
    // The command's name as the client sent it (ioredis: lower case).
    expect(asClient.message).toMatch(/^ERR qgrefuse: HSET on k is not allowed by this server's policy$/i);
    expect(classifyRedisError(asClient)).toMatchObject({ cause: 'other', redisState: false, refusesWrites: false });
    // Unprotected in a script (redis.call), Redis adds where the script stopped: a script's error.
    const inScript = await redis.client.eval("return redis.call('HSET', KEYS[1], 'f', 'v')", 1, 'k').then(
      () => new Error('accepted'),
      (e: unknown) => e as Error,
    );
    expect(inScript.message).toMatch(/^ERR qgrefuse: HSET on k is not allowed by this server's policy script: \w+, on @user_script:1\.$/);
    expect(classifyRedisError(inScript)).toMatchObject({ cause: 'script', redisState: false });
    // Any other command, or HSET on any other key, passes.
    expect(await redis.client.hset('other', 'f', 'v')).toBe(1);
    await redis.client.call('qgrefuse.clear');
    expect(await redis.client.hset('k', 'f', 'v')).toBe(1);
  });

  /**
   * The heat gate in enforce mode over twenty-one proposals, the module refusing the HSET of one
   * symbol's proposal hash until `allow` is called; resolves with /ready while it refused and the
   * calibrated stream once every proposal is decided and nothing is pending.
   */
  async function refusedProposal(): Promise<{ readyWhileRefused: { status: number; body: string }; calibrated: Record<string, string>[] }> {
    await redis.client.call('qgrefuse.set', 'HSET', REFUSED_KEY);
    runtime = await createTestRuntime(redis.url, { HANDLERS: 'heat-gate', P26_MODE: 'enforce', COMMIT_BACKOFF_MAX_MS: '200' });
    const base = String(await runtime.start());
    // The exit brain's proposal entry (seeds/001: plan_id, symbol, action).
    await produce(
      redis.client,
      streams.harvestProposal,
      SYMBOLS.map((symbol, i) => ({ plan_id: `h${i}`, symbol, action: 'FULL_CLOSE' })),
    );
    await waitFor(async () => (await metricSum(runtime!, 'quantum_gates_commit_failures_total', { cause: 'other' })) >= 3, {
      what: 'the proposal’s write refused by the module three times',
    });
    // Held, not given up: still pending, while the twenty others are decided.
    expect(await pendingCount(redis.client, streams.harvestProposal, 'p26_heat_gate')).toBeGreaterThan(0);
    await waitFor(
      async () => new Set((await readStream(redis.client, streams.harvestCalibrated)).map((e) => e.symbol)).size >= SYMBOLS.length - 1,
      {
        what: 'the twenty others calibrated',
      },
    );
    const readyWhileRefused = await readyAt(base);
    expect(await redis.client.exists(streams.deadLetter)).toBe(0);

    await redis.client.call('qgrefuse.clear');
    await waitFor(async () => (await pendingCount(redis.client, streams.harvestProposal, 'p26_heat_gate')) === 0, {
      what: 'nothing pending',
    });
    await waitFor(async () => (await readyAt(base)).status === 200, { what: '/ready 200 once the module allows the write' });
    return { readyWhileRefused, calibrated: await readStream(redis.client, streams.harvestCalibrated) };
  }

  it('heat gate in enforce mode, the module refusing one symbol’s proposal hash: held (counted other), /ready names the key and the module’s words; every proposal calibrated once it allows the write, the hash written, none dead-lettered', async () => {
    const { readyWhileRefused, calibrated } = await refusedProposal();
    expect(readyWhileRefused.status).toBe(503);
    expect(readyWhileRefused.body).toContain(
      `commits refused (other): ERR qgrefuse: HSET on ${REFUSED_KEY} is not allowed by this server's policy`,
    );
    expect([...new Set(calibrated.map((e) => e.symbol))].sort()).toEqual([...SYMBOLS].sort());
    expect(await redis.client.exists(REFUSED_KEY)).toBe(1);
    expect(await redis.client.exists(streams.deadLetter)).toBe(0);
  }, 60_000);

  // Found by this test: the held proposal's calibrated entry was appended again at every try (4
  // entries, one trace id): run-batch.lua applied a message's commands in order, past a refused
  // one, and the type check before them foresees WRONGTYPE, not a module's refusal. It now applies
  // a message's appends after its other writes and stops at the first refusal (issue #71 item 2:
  // exactly one decision event per message).
  it('each proposal calibrated exactly once: the held one’s output is not appended again at each try', async () => {
    const { calibrated } = await refusedProposal();
    expect(calibrated.filter((e) => e.symbol === 'BADUSDT')).toHaveLength(1);
  }, 60_000);
});
