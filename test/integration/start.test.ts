import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { isListening } from '../../app/local-redis.js';
import { freePort, startTestRedis } from '../support/redis-server.js';
import { waitFor } from '../support/runtime.js';
import { servingPort, untilReady, untilServing } from '../support/serving.js';
import { isolatedEnv, ownTempDir } from '../support/own-dirs.js';
import { runCli } from './cli-harness.js';
import { gatesEntry } from '../support/gates-process.js';

const root = resolve(import.meta.dirname, '../..');

/**
 * Runs `npm start`'s entry point as its own process and collects what it prints: with a data
 * directory of the tests' (isolatedEnv) unless `env` names one, never the checkout's .data. Its
 * HTTP port is the system's choice (PORT=0) unless `env` names one, read from its "serving" line:
 * a port found free beforehand may be another test's by the time the process binds it, and a
 * request to that one may never be answered.
 */
function launch(env: Record<string, string>) {
  const child = spawn(process.execPath, [...gatesEntry()], {
    cwd: root,
    env: { HOME: process.env.HOME ?? '/tmp', PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', PORT: '0', ...isolatedEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const readers = new Set<() => void>();
  const heard = (chunk: Buffer) => {
    output += chunk.toString();
    for (const read of readers) read();
  };
  child.stdout.on('data', heard);
  child.stderr.on('data', heard);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  /** Settles with what `found` finds in the output, read again on each chunk; an error with the output after `timeoutMs`. */
  const until = <T>(found: (output: string) => T | undefined, what: string, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      const read = () => {
        const value = found(output);
        if (value === undefined) return;
        stop();
        resolve(value);
      };
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (output so far: ${output.slice(-2000)})`));
      }, timeoutMs);
      const stop = () => {
        clearTimeout(timer);
        readers.delete(read);
      };
      readers.add(read);
      read();
    });
  let code: number | null | undefined;
  void exited.then((c) => {
    code = c;
    for (const read of readers) read();
  });
  return {
    child,
    exited,
    output: () => output,
    /** Resolves once the output holds `text`. */
    says: (text: string, timeoutMs: number) => until((o) => (o.includes(text) ? true : undefined), JSON.stringify(text), timeoutMs),
    /** The exit code, once the process has exited. */
    exit: (timeoutMs = 30_000) => until(() => code, 'the process to exit', timeoutMs),
    /** Waits for its "serving" line, then for /ready to answer 200 on the port it names. */
    async ready() {
      await untilReady(await until(servingPort, 'the "serving" line', 30_000));
    },
  };
}

/** Shuts down a redis-server a test's npm start left on `port`, if any. */
async function shutDownIfListening(port: number): Promise<void> {
  if (!(await isListening('127.0.0.1', port))) return;
  const orphan = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await orphan
    .connect()
    .then(() => orphan.call('shutdown', 'nosave'))
    .catch(() => undefined);
  orphan.disconnect();
}

describe('npm start', () => {
  it('starts a private redis-server when none is configured or answering, serves, and exits 0 on SIGTERM', async () => {
    const redisPort = await freePort();
    const run = launch({ QG_DATA_DIR: ownTempDir('qg-data-'), REDIS_PORT: String(redisPort) });
    try {
      await run.ready();
      expect(run.output()).toContain(`started a private redis-server at redis://127.0.0.1:${redisPort}`);
      run.child.kill('SIGTERM');
      expect(await run.exit()).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it.each(['SIGINT', 'SIGTERM'] as const)(
    'stops cleanly on %s (Ctrl-C, systemctl stop): exit 0, its private redis-server stopped with it, its data directory freed',
    async (signal) => {
      const redisPort = await freePort();
      const data = ownTempDir('qg-data-');
      const run = launch({ QG_DATA_DIR: data, REDIS_PORT: String(redisPort) });
      try {
        await run.ready();
        expect(await isListening('127.0.0.1', redisPort)).toBe(true);
        run.child.kill(signal);
        expect(await run.exit()).toBe(0);
        expect(await isListening('127.0.0.1', redisPort)).toBe(false);
        expect(readdirSync(join(data, 'redis'))).not.toContain('npm-start.lock');
      } finally {
        run.child.kill('SIGKILL');
        await shutDownIfListening(redisPort);
      }
    },
  );

  it('quantum-gates status with its QG_DATA_DIR asks the port that npm start recorded, not 8080', async () => {
    const data = ownTempDir('qg-data-');
    const redisPort = await freePort();
    // PORT=0: a port of the system's choosing, which nobody could guess.
    const run = launch({ QG_DATA_DIR: data, REDIS_PORT: String(redisPort) });
    try {
      await run.ready();
      const port = servingPort(run.output())!;
      const record = JSON.parse(readFileSync(join(data, 'redis', 'private-redis.json'), 'utf8')) as { gates?: string };
      expect(record.gates).toBe(`http://127.0.0.1:${port}`);

      const status = await runCli(['status', '--json'], { QG_DATA_DIR: data });
      expect([0, 3], status.stderr).toContain(status.code);
      expect((JSON.parse(status.stdout) as { instance: { port: number } }).instance.port).toBe(port);

      run.child.kill('SIGTERM');
      expect(await run.exit()).toBe(0);
      // Stopped, it no longer says where to ask: status falls back to its default.
      expect(JSON.parse(readFileSync(join(data, 'redis', 'private-redis.json'), 'utf8'))).toEqual({ port: redisPort });
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('keeps REDIS_DB for the private redis-server: a database it does not have stops the start, and the server with it', async () => {
    const redisPort = await freePort();
    const run = launch({
      QG_DATA_DIR: ownTempDir('qg-data-'),
      REDIS_PORT: String(redisPort),
      REDIS_DB: '99',
    });
    try {
      expect(await run.exit()).toBe(1);
      expect(run.output()).toMatch(/REDIS_DB: Redis at redis:\/\/127\.0\.0\.1:\d+\/99 has no database 99/);
      expect(run.output()).not.toContain('    at ');
      expect(await isListening('127.0.0.1', redisPort)).toBe(false);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('says how to get Redis when none answers and redis-server is not installed', async () => {
    const run = launch({ REDIS_PORT: String(await freePort()), PATH: '/nonexistent' });
    expect(await run.exit()).toBe(1);
    expect(run.output()).toMatch(/redis-server is not installed[\s\S]*apt-get install redis-server[\s\S]*REDIS_URL/);
  });

  it('leaves a Redis that answers on the default port but that nothing named alone: runs on a private one, saying why', async () => {
    const redis = await startTestRedis();
    await redis.client.set('somebody:else', '1');
    const run = launch({ QG_DATA_DIR: ownTempDir('qg-data-'), QG_PRIVATE_REDIS_PORT: String(redis.port) });
    try {
      await run.ready();
      expect(run.output()).toMatch(
        new RegExp(`the Redis answering at 127\\.0\\.0\\.1:${redis.port} \\(it holds 1 key\\) is left alone: nothing named it`),
      );
      expect(run.output()).toContain(`REDIS_URL=redis://127.0.0.1:${redis.port}/0 npm start`);
      expect(await redis.client.keys('*')).toEqual(['somebody:else']);
      expect(await redis.client.call('client', 'list')).not.toContain('quantum-gates');
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
      await redis.stop();
    }
  });

  it("REDIS_PORT names the port: a Redis not this checkout's answering there is refused in one line, never replaced", async () => {
    const redis = await startTestRedis();
    const run = launch({ QG_DATA_DIR: ownTempDir('qg-data-'), REDIS_PORT: String(redis.port) });
    try {
      expect(await run.exit()).toBe(1);
      expect(run.output()).toContain(
        `REDIS_PORT: 127.0.0.1:${redis.port} answers, and it is not this checkout's private redis-server: nothing was written to it. ` +
          `To run the gates on it: REDIS_HOST=127.0.0.1 REDIS_PORT=${redis.port} npm start`,
      );
      expect(run.output()).not.toContain('started a private redis-server');
      expect(await redis.client.dbsize()).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
      await redis.stop();
    }
  });

  it('keeps the private redis-server on the port it had at the last start, and starts it again when it dies', async () => {
    const taken = await startTestRedis();
    const data = ownTempDir('qg-data-');
    const first = launch({ QG_DATA_DIR: data, QG_PRIVATE_REDIS_PORT: String(taken.port) });
    let second: ReturnType<typeof launch> | undefined;
    try {
      await first.ready();
      const privatePort = Number(/started a private redis-server at redis:\/\/127\.0\.0\.1:(\d+)/.exec(first.output())?.[1]);
      expect(privatePort).toBeGreaterThan(0);
      first.child.kill('SIGTERM');
      expect(await first.exit()).toBe(0);

      second = launch({ QG_DATA_DIR: data, QG_PRIVATE_REDIS_PORT: String(taken.port) });
      await second.ready();
      expect(second.output()).toContain(`started a private redis-server at redis://127.0.0.1:${privatePort} `);
      // The CLI of this checkout writes to it with nothing else naming a Redis (the README's quick start).
      const cli = await runCli(['inject', 'portfolio', '--equity-usd', '10000'], { QG_DATA_DIR: data });
      expect(cli.stderr).toContain(
        `writing to Redis redis://127.0.0.1:${privatePort}/0 (the private redis-server of this checkout's npm start`,
      );
      expect(cli.code).toBe(0);

      // Its death is noticed: said, /ready 503 while it is down, and it runs again on the same port.
      const server = new Redis({ port: privatePort, lazyConnect: true, maxRetriesPerRequest: 0 });
      await server.connect();
      await server.call('shutdown', 'nosave').catch(() => undefined);
      server.disconnect();
      await second.says(`the private redis-server at redis://127.0.0.1:${privatePort} exited`, 10_000);
      await second.says('the private redis-server runs again', 15_000);
      await second.ready();
      expect(await isListening('127.0.0.1', privatePort, 10_000)).toBe(true);
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGTERM');
      await second?.exited;
      await taken.stop();
    }
  });

  it('stops the private redis-server a killed npm start left running, and runs on its port and data again', async () => {
    const redisPort = await freePort();
    const data = ownTempDir('qg-data-');
    const killed = launch({ QG_DATA_DIR: data, REDIS_PORT: String(redisPort) });
    let again: ReturnType<typeof launch> | undefined;
    try {
      await killed.ready();
      await runCli(['kill', 'on', '--reason', 'survives'], { QG_DATA_DIR: data });
      killed.child.kill('SIGKILL');
      await killed.exited;
      // Its own process group: left running. A long probe: under the suite's load a 500 ms timer can
      // fire before the loop reads the connect that already succeeded (timers run before I/O).
      expect(await isListening('127.0.0.1', redisPort, 10_000), killed.output()).toBe(true);

      again = launch({ QG_DATA_DIR: data, REDIS_PORT: String(redisPort) });
      await again.ready();
      expect(again.output()).toContain(
        `stopping the private redis-server a killed npm start left running at redis://127.0.0.1:${redisPort}`,
      );
      expect(again.output()).toContain(`started a private redis-server at redis://127.0.0.1:${redisPort} `);
      const client = new Redis({ port: redisPort, lazyConnect: true, maxRetriesPerRequest: 0 });
      await client.connect();
      expect(await client.get('quantum:kill')).toBe('1'); // the same data, written to its AOF at the SHUTDOWN
      client.disconnect();
    } finally {
      killed.child.kill('SIGKILL');
      again?.child.kill('SIGTERM');
      await again?.exited;
      await shutDownIfListening(redisPort);
    }
  });

  it('stops the private redis-server and frees its data directory when stopped while it starts', async () => {
    const redisPort = await freePort();
    const data = ownTempDir('qg-data-');
    const run = launch({ QG_DATA_DIR: data, REDIS_PORT: String(redisPort) });
    try {
      await run.says('started a private redis-server', 30_000);

      run.child.kill('SIGTERM');
      await run.exited;
      await waitFor(async () => !(await isListening('127.0.0.1', redisPort)), {
        timeoutMs: 10_000,
        what: 'the private redis-server to stop',
      });
      expect(readdirSync(join(data, 'redis'))).not.toContain('npm-start.lock');
    } finally {
      run.child.kill('SIGKILL');
      await shutDownIfListening(redisPort); // a server left running (the failure this test is about) goes with the test
    }
  });

  it('stops the private redis-server with the gates when their shutdown times out', async () => {
    const redisPort = await freePort();
    const run = launch({ QG_DATA_DIR: ownTempDir('qg-data-'), REDIS_PORT: String(redisPort), SHUTDOWN_TIMEOUT_MS: '0' });
    try {
      await run.ready();
      run.child.kill('SIGTERM');
      expect(await run.exit()).toBe(1);
      expect(run.output()).toContain('shutdown timed out');
      await waitFor(async () => !(await isListening('127.0.0.1', redisPort)), {
        timeoutMs: 10_000,
        what: 'the private redis-server to stop',
      });
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('runs on a private redis-server of its own with REDIS_PRIVATE=1, beside a Redis that answers, writing nothing into that one', async () => {
    const redis = await startTestRedis();
    const run = launch({ QG_DATA_DIR: ownTempDir('qg-data-'), QG_PRIVATE_REDIS_PORT: String(redis.port), REDIS_PRIVATE: '1' });
    try {
      await run.ready();
      const privateUrl = /started a private redis-server at (redis:\/\/127\.0\.0\.1:(\d+)) as asked/.exec(run.output());
      expect(privateUrl?.[2]).toBeDefined();
      expect(Number(privateUrl![2])).not.toBe(redis.port);
      expect(run.output()).toContain(`export REDIS_URL=${privateUrl![1]}/0`);
      expect(await redis.client.dbsize()).toBe(0);
      run.child.kill('SIGTERM');
      expect(await run.exit()).toBe(0);
      expect(await isListening('127.0.0.1', Number(privateUrl![2]))).toBe(false);
    } finally {
      run.child.kill('SIGKILL');
      await redis.stop();
    }
  });

  it('names PORT when the port is taken, before any gate joins its consumer group, without a stack', async () => {
    const redis = await startTestRedis();
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as AddressInfo).port;
    const run = launch({ REDIS_URL: redis.url, PORT: String(port) });
    try {
      expect(await run.exit()).toBe(1);
      expect(run.output()).toContain(`PORT: 127.0.0.1:${port} is already in use by another process`);
      expect(run.output()).not.toContain('    at ');
      expect(await redis.client.exists('quantum:stream:harvest.proposal')).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
      taken.close();
      await redis.stop();
    }
  });

  it('refuses to start on a bad setting, naming every bad variable', async () => {
    const run = launch({
      REDIS_URL: 'redis://:hunter2@127.0.0.1:1',
      PORT: 'http',
      HEAT_MAX: 'hot',
      DASHBOARD_USER: 'ops',
      DASHBOARD_PASSWORD: 'short',
    });
    expect(await run.exit()).toBe(1);
    for (const name of ['PORT', 'HEAT_MAX', 'DASHBOARD_PASSWORD']) expect(run.output()).toContain(`${name}:`);
    expect(run.output()).not.toContain('short');
    expect(run.output()).not.toContain('hunter2');
  });

  it.each([
    ['APPLY_MODE', 'TESTNET', '"testnet"'],
    ['APPLY_MODE', 'testnet ', '"testnet"'],
    ['P28_MODE', 'Enforce', '"enforce"'],
  ])('refuses %s=%j (the governor alone hosted), naming every value, before touching Redis', async (name, value, meant) => {
    const redis = await startTestRedis();
    const run = launch({ REDIS_URL: redis.url, HANDLERS: 'governor', [name]: value });
    try {
      expect(await run.exit()).toBe(1);
      const line = run
        .output()
        .split('\n')
        .find((l) => l.includes(`${name}: must be exactly one of "`));
      expect(line).toContain(`(did you mean ${meant}?) (got "${value}")`);
      expect(run.output()).not.toContain('    at ');
      expect(await redis.client.dbsize()).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
      await redis.stop();
    }
  });

  it('names the governor path taken and its caps in the start line', async () => {
    const redis = await startTestRedis();
    const run = launch({ REDIS_URL: redis.url, HANDLERS: 'governor', LOG_LEVEL: 'info', APPLY_MODE: 'production' });
    try {
      await run.ready();
      expect(run.output()).toContain(
        '"msg":"APPLY_MODE=production: the production path, with no fund caps (open positions, per trade, total)',
      );
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
      await redis.stop();
    }
  });
});

describe('npm start beside the tests: each on its own data directory', () => {
  const privatePortOf = (output: string) => Number(/started a private redis-server at redis:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1]);

  it("leaves a running npm start's Redis and data alone while the tests' CLI writes and their own npm start come and go", async () => {
    // The user's npm start (its data directory stands for the checkout's, which no test names: the tests' own lie outside the checkout).
    expect(isolatedEnv().QG_DATA_DIR.startsWith(`${root}/`)).toBe(false);
    const userData = ownTempDir('qg-user-data-');
    const user = launch({ QG_DATA_DIR: userData, REDIS_PORT: String(await freePort()) });
    let tests: ReturnType<typeof launch> | undefined;
    try {
      await user.ready();
      const record = readFileSync(join(userData, 'redis', 'private-redis.json'), 'utf8');
      const files = readdirSync(join(userData, 'redis')).sort();
      expect(files).toContain('appendonlydir');

      // What the suite does: cli-redis-target.test.ts's writes with nothing named, start.test.ts's npm start.
      for (const args of [
        ['kill', 'on', '--reason', 'x'],
        ['inject', 'portfolio', '--equity-usd', '10000'],
      ]) {
        const write = await runCli(args);
        expect(write.code, write.stderr).toBe(2);
        expect(write.stderr).toContain('nothing named a Redis to write to');
      }
      tests = launch({ REDIS_PORT: String(await freePort()) });
      await tests.ready();
      expect(privatePortOf(tests.output())).not.toBe(privatePortOf(user.output()));
      tests.child.kill('SIGTERM');
      expect(await tests.exit()).toBe(0);

      const client = new Redis({ port: privatePortOf(user.output()), lazyConnect: true, maxRetriesPerRequest: 0 });
      await client.connect();
      expect(await client.exists('quantum:kill', 'quantum:state:portfolio')).toBe(0);
      client.disconnect();
      expect(readFileSync(join(userData, 'redis', 'private-redis.json'), 'utf8')).toBe(record);
      expect(readdirSync(join(userData, 'redis')).sort()).toEqual(files);
      await user.ready();
    } finally {
      tests?.child.kill('SIGKILL');
      user.child.kill('SIGTERM');
      await user.exited;
    }
  });

  it('two npm starts at once on one data directory: one runs, the other refuses with one line; a third is told PORT= too', async () => {
    const data = ownTempDir('qg-data-');
    const redisPort = String(await freePort());
    const starts = [0, 1].map(() => launch({ QG_DATA_DIR: data, REDIS_PORT: redisPort }));
    let third: ReturnType<typeof launch> | undefined;
    try {
      const loser = await Promise.race(starts.map(async (run, i) => ({ i, code: await run.exit() })));
      expect(loser.code).toBe(1);
      // No REDIS_URL was set: the refusal names none (it began "REDIS_URL:").
      expect(starts[loser.i]!.output()).toMatch(
        /^quantum-gates: another npm start \(pid \d+\) runs the private redis-server on \S+(?: at \S+)?: stop it first/m,
      );
      expect(starts[loser.i]!.output()).not.toContain('REDIS_URL:');
      const winner = starts[1 - loser.i]!;
      await winner.ready();
      const privatePort = privatePortOf(winner.output());

      third = launch({ QG_DATA_DIR: data, REDIS_PORT: redisPort });
      expect(await third.exit()).toBe(1);
      expect(third.output()).toMatch(
        new RegExp(`run beside it on that Redis with REDIS_URL=redis://127\\.0\\.0\\.1:${privatePort}/0 PORT=\\d+ npm start`),
      );
      expect(third.output()).not.toContain('    at ');

      winner.child.kill('SIGTERM');
      expect(await winner.exit()).toBe(0);
      expect(JSON.parse(readFileSync(join(data, 'redis', 'private-redis.json'), 'utf8'))).toEqual({ port: privatePort });
      expect(readdirSync(join(data, 'redis'))).not.toContain('npm-start.lock');
    } finally {
      for (const run of [...starts, third]) run?.child.kill('SIGTERM');
      await Promise.all([...starts, third].map((run) => run?.exited));
    }
  });
});

describe('npm start under a supervisor', () => {
  it('a SIGTERM to npm reaches node, which drains and exits instead of being orphaned', async () => {
    const redis = await startTestRedis();
    const npm = spawn('npm', ['start'], {
      cwd: root,
      env: { HOME: process.env.HOME ?? '/tmp', PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', REDIS_URL: redis.url, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const npmExited = new Promise<void>((r) => npm.once('exit', () => r()));
    let nodePid: number | undefined;
    try {
      await untilReady(await untilServing(npm, 30_000));
      nodePid = Number(/"pid":(\d+)/.exec(output)?.[1]);
      expect(nodePid).toBeGreaterThan(0);
      expect(nodePid).not.toBe(npm.pid);

      npm.kill('SIGTERM');
      await npmExited;

      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      await waitFor(() => !alive(nodePid!), { timeoutMs: 15_000, what: 'node to exit' });
      expect(output).toContain('"msg":"shutdown requested"');
      expect(output).toContain('"msg":"stopped"');
    } finally {
      npm.kill('SIGKILL');
      if (nodePid) {
        try {
          process.kill(nodePid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await redis.stop();
    }
  });
});
