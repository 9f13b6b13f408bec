import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keys } from '../../schemas/keys.js';
import { ownTempDir } from '../support/own-dirs.js';
import { freePort, startTestRedis, usePrivateRedis, type TestRedis } from '../support/redis-server.js';
import { runCli } from './cli-harness.js';

/**
 * Which Redis the CLI acts on: a slip of a REDIS_* name is refused with the server's did-you-mean,
 * and nothing is written to a Redis that no variable or env file named. (The harness gives every
 * run a data directory and env-file directory of the tests' own: never the checkout's.)
 */
describe('the Redis the CLI acts on', () => {
  const redis = usePrivateRedis();

  it('refuses a REDIS_* slip as the server does, writing nothing anywhere', async () => {
    const result = await runCli(['kill', 'on', '--reason', 'typo test'], { REDIS_ULR: `${redis.url}/0` });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('REDIS_ULR: is not a setting of quantum-gates (did you mean "REDIS_URL"?)');
    expect(result.stderr).not.toContain('writing to Redis');
    expect(await redis.client.exists(keys.killSwitch)).toBe(0);
  });

  it('refuses the slip for a read too, before connecting anywhere', async () => {
    const result = await runCli(['kill', 'status'], { REDIS_PROT: String(redis.port) });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('REDIS_PROT: is not a setting of quantum-gates (did you mean "REDIS_PORT"?)');
  });

  it.each([
    ['kill on', ['kill', 'on', '--reason', 'x']],
    ['inject portfolio', ['inject', 'portfolio', '--equity-usd', '10000']],
    ['disarm clear', ['disarm', 'clear', '--reason', 'x']],
  ])('%s with nothing naming a Redis refuses to write to the default, exit 2', async (_name, args) => {
    const result = await runCli(args);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nothing named a Redis to write to');
    expect(result.stderr).toContain('nothing was written');
    expect(result.stderr).not.toContain('writing to Redis');
  });

  it('REDIS_PORT alone names 127.0.0.1 at that port: read and written there', async () => {
    await redis.client.set(keys.killSwitch, '1');

    const result = await runCli(['kill', 'status'], { REDIS_PORT: String(redis.port) });
    expect(result.stdout).toContain('ON');
    const write = await runCli(['kill', 'off', '--reason', 'x'], { REDIS_PORT: String(redis.port) });
    expect(write.stderr).toContain(`writing to Redis redis://127.0.0.1:${redis.port}/0 (settings from the environment)`);
    expect(write.code).toBe(0);
    expect(await redis.client.get(keys.killSwitch)).toBe('0');
  });

  it('status names the Redis it tried when that one does not answer', async () => {
    const [redisPort, httpPort] = [await freePort(), await freePort()];

    const result = await runCli(['status'], { REDIS_URL: `redis://127.0.0.1:${redisPort}/0`, QG_URL: `http://127.0.0.1:${httpPort}` });

    expect(result.stderr).toContain(
      `the Redis named (settings from the environment) does not answer: REDIS_URL: cannot reach Redis at redis://127.0.0.1:${redisPort}/0`,
    );
  });

  it('writes where REDIS_HOST names the Redis', async () => {
    const env = { REDIS_HOST: '127.0.0.1', REDIS_PORT: String(redis.port) };
    const result = await runCli(['inject', 'portfolio', '--equity-usd', '10000'], env);

    expect(result.stderr).toContain(`writing to Redis redis://127.0.0.1:${redis.port}/0 (settings from the environment)`);
    expect(result.code).toBe(0);
    expect(await redis.client.exists(keys.portfolioState)).toBe(1);
  });
});

/**
 * The private redis-server of this checkout's `npm start`, stood in for by a test Redis whose
 * directory is the data directory's `redis` (a link to it) and a record naming its port, with
 * this test process as the `npm start` that runs it.
 */
describe("the CLI and the checkout's private redis-server", () => {
  let checkout: TestRedis;
  let other: TestRedis;
  const deadPid = spawnSync('true').pid!;

  const dataDir = (record: { port: number; pid?: number }, linkTo?: string): string => {
    const data = ownTempDir('qg-data-');
    if (linkTo === undefined) mkdirSync(join(data, 'redis'));
    else symlinkSync(linkTo, join(data, 'redis'));
    writeFileSync(join(data, 'redis', 'private-redis.json'), `${JSON.stringify(record)}\n`);
    return data;
  };

  beforeAll(async () => {
    [checkout, other] = await Promise.all([startTestRedis(), startTestRedis()]);
  });
  afterAll(async () => {
    await Promise.all([checkout?.stop(), other?.stop()]);
  });
  beforeEach(async () => {
    await Promise.all([checkout.client.flushall(), other.client.flushall()]);
  });

  it('writes to it once the Redis on the recorded port proves to be this data directory’s', async () => {
    const data = dataDir({ port: checkout.port, pid: process.pid }, checkout.dir);

    const result = await runCli(['kill', 'on', '--reason', 'x'], { QG_DATA_DIR: data });

    expect(result.stderr).toContain(
      `writing to Redis redis://127.0.0.1:${checkout.port}/0 (the private redis-server of this checkout's npm start`,
    );
    expect(result.code).toBe(0);
    expect(await checkout.client.get(keys.killSwitch)).toBe('1');
  });

  it("refuses a record whose port is another program's Redis though its pid lives, writing nothing there", async () => {
    const data = dataDir({ port: other.port, pid: process.pid });

    const result = await runCli(['kill', 'on', '--reason', 'x'], { QG_DATA_DIR: data });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `the Redis at redis://127.0.0.1:${other.port} is not the private redis-server of this checkout's npm start (its data is elsewhere)`,
    );
    expect(await other.client.exists(keys.killSwitch)).toBe(0);
  });

  it('says npm start does not run when its record is left and its port is another Redis or nothing, reading no default', async () => {
    for (const record of [{ port: other.port, pid: deadPid }, { port: other.port }, { port: await freePort() }]) {
      const data = dataDir(record);

      const write = await runCli(['kill', 'on', '--reason', 'x'], { QG_DATA_DIR: data });
      const read = await runCli(['kill', 'status'], { QG_DATA_DIR: data });

      for (const result of [write, read]) {
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`redis://127.0.0.1:${record.port}`);
        expect(result.stderr).toContain('and no npm start of this checkout runs: start it (npm start), or name a Redis with REDIS_URL');
        expect(result.stderr).not.toContain('reading Redis');
      }
      expect(await other.client.exists(keys.killSwitch)).toBe(0);
    }
  });

  it('status says so too, and still asks the gates for theirs', async () => {
    const data = dataDir({ port: await freePort() });

    const result = await runCli(['status'], { QG_DATA_DIR: data, QG_URL: `http://127.0.0.1:${await freePort()}` });

    expect(result.stderr).toContain('and no npm start of this checkout runs');
    expect(result.stderr).toContain('cannot reach quantum-gates at http://127.0.0.1:');
  });

  it('says its private server does not answer and that npm start runs, blaming no variable', async () => {
    const port = await freePort();
    const data = dataDir({ port, pid: process.pid });

    const result = await runCli(['kill', 'status'], { QG_DATA_DIR: data });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `the private redis-server of this checkout's npm start does not answer at redis://127.0.0.1:${port}; npm start runs (pid ${process.pid})`,
    );
    expect(result.stderr).not.toContain('REDIS_HOST');
    expect(result.stderr).not.toContain('REDIS_PORT');
  });

  it('--private with an env file that names a Redis is refused in one line before anything is read', async () => {
    const file = join(ownTempDir('qg-env-'), 'elsewhere.env');
    writeFileSync(file, `REDIS_URL=${other.url}/0\n`);
    const data = dataDir({ port: checkout.port, pid: process.pid }, checkout.dir);

    const result = await runCli(['kill', 'status', '--private', '--env-file', file], { QG_DATA_DIR: data });

    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe(
      `quantum-gates kill status: --private and REDIS_URL (the shell's or ${file}'s) name two Redis: give one`,
    );
  });

  it('--private with an env file of settings only (QG_ENV_FILE or --env-file) reads the private one with those settings', async () => {
    const file = join(ownTempDir('qg-env-'), 'settings.env');
    writeFileSync(file, 'REDIS_DB=3\n');
    const data = dataDir({ port: checkout.port, pid: process.pid }, checkout.dir);
    await checkout.client.select(3);
    await checkout.client.set(keys.killSwitch, '1');
    await checkout.client.select(0);

    for (const [args, env] of [
      [['--private'], { QG_DATA_DIR: data, QG_ENV_FILE: file }],
      [['--private', '--env-file', file], { QG_DATA_DIR: data }],
    ] as const) {
      const result = await runCli(['kill', 'status', ...args], env);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('ON');
    }
  });

  it('an env file named on purpose that names no Redis (a what-if) reads the private one, not a default', async () => {
    const file = join(ownTempDir('qg-env-'), 'lower-heat.env');
    writeFileSync(file, 'HEAT_MIN=0.05\n');
    const data = dataDir({ port: checkout.port, pid: process.pid }, checkout.dir);
    await checkout.client.set(keys.killSwitch, '1');

    const result = await runCli(['kill', 'status'], { QG_DATA_DIR: data, QG_ENV_FILE: file });

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('ON');
  });

  describe('beside a unit env file found in the env directory', () => {
    let env: Record<string, string>;
    let file: string;
    beforeEach(() => {
      const etc = ownTempDir('qg-env-');
      file = join(etc, 'quantum-gates.env');
      writeFileSync(file, `REDIS_URL=${other.url}/0\n`);
      env = { QG_ENV_DIR: etc, QG_DATA_DIR: dataDir({ port: checkout.port, pid: process.pid }, checkout.dir) };
    });

    it('a write refuses to choose between them, naming --env-file, REDIS_URL and --private; nothing is written', async () => {
      const result = await runCli(['kill', 'on', '--reason', 'x'], env);

      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`two Redis could be meant: ${file} names ${other.url}/0, and the private redis-server`);
      expect(result.stderr).toContain(`--env-file ${file}, REDIS_URL=redis://host:port/db, or --private`);
      expect(await other.client.exists(keys.killSwitch)).toBe(0);
      expect(await checkout.client.exists(keys.killSwitch)).toBe(0);
    });

    it('--private, --env-file or REDIS_URL says which, and the write lands there', async () => {
      expect((await runCli(['kill', 'on', '--reason', 'x', '--private'], env)).code).toBe(0);
      expect(await checkout.client.get(keys.killSwitch)).toBe('1');
      expect(await other.client.exists(keys.killSwitch)).toBe(0);

      expect((await runCli(['inject', 'portfolio', '--equity-usd', '1', '--env-file', file], env)).code).toBe(0);
      expect((await runCli(['kill', 'on', '--reason', 'x'], { ...env, REDIS_URL: `${other.url}/0` })).code).toBe(0);
      expect(await other.client.exists(keys.portfolioState, keys.killSwitch)).toBe(2);
      expect(await checkout.client.exists(keys.portfolioState)).toBe(0);
    });

    it('a read reads the env file’s Redis and says the private one runs too', async () => {
      const result = await runCli(['kill', 'status'], env);

      expect(result.code).toBe(0);
      expect(result.stderr).toContain(
        `reading Redis ${other.url}/0 (settings from ${file}); the private redis-server of this checkout's npm start at redis://127.0.0.1:${checkout.port}/0 runs too: --private reads that one`,
      );
    });
  });
});
