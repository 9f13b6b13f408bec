import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-harness.js';
import { refusedPort, startTestRedis, type TestRedis } from '../support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { childBaseEnv } from '../support/own-dirs.js';
import { gatesEntry } from '../support/gates-process.js';

const root = resolve(import.meta.dirname, '../..');

/** A password with a space, as an operator might choose, and its URL form. */
const PASSWORD = 'Sup3r secret-pw';
const URL_PASSWORD = encodeURIComponent(PASSWORD);
const WRONG = 'wr0ng-horse-battery';

/** Runs `npm start`'s entry point to its exit (or, once it printed `stopAt`, to its exit on SIGTERM) and collects what it printed. */
function start(env: Record<string, string>, stopAt?: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...gatesEntry()], {
      cwd: root,
      // info, so the start-up log lines are checked for secrets as well
      env: { ...childBaseEnv(), LOG_LEVEL: 'info', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    if (stopAt)
      for (const stream of [child.stdout, child.stderr])
        stream.on('data', () => {
          if (stopAt.test(`${stdout}${stderr}`)) child.kill('SIGTERM');
        });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`npm start did not exit within 30 s\n${stdout}\n${stderr}`));
    }, 30_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

let redis: TestRedis;
/** Accepts connections to the server and never passes a byte: a host that has gone silent. */
let silent: TcpProxy;
/** An HTTP server on a free port: a REDIS_URL pointed at the dashboard's port, say. */
let http: Server;
let httpPort: number;
beforeAll(async () => {
  redis = await startTestRedis({ password: PASSWORD, extraArgs: ['--databases', '16'] });
  silent = await startTcpProxy({ port: redis.port });
  silent.blackhole();
  http = createServer((_request, response) => response.end('not redis'));
  await new Promise<void>((resolvePromise) => http.listen(0, '127.0.0.1', resolvePromise));
  httpPort = (http.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolvePromise) => http?.close(resolvePromise));
  await silent?.close();
  await redis?.stop();
});

interface WiringCase {
  readonly env: () => Promise<Record<string, string>> | Record<string, string>;
  readonly variable: string;
  readonly cause: RegExp;
  /** Nothing answers: npm start waits for it (a Redis not up yet) instead of refusing. */
  readonly waits?: true;
}

const hostEnv = () => ({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(redis.port), REDIS_PASSWORD: PASSWORD });
const url = (auth: string, rest = '') => `redis://${auth}127.0.0.1:${redis.port}${rest}`;

const cases: Record<string, WiringCase> = {
  'a database the server does not have (REDIS_DB)': {
    env: () => ({ ...hostEnv(), REDIS_DB: '99' }),
    variable: 'REDIS_DB',
    cause: /has no database 99/,
  },
  'a database the server does not have (in REDIS_URL)': {
    env: () => ({ REDIS_URL: url(`:${URL_PASSWORD}@`, '/16') }),
    variable: 'REDIS_URL',
    cause: /has no database 16/,
  },
  'a wrong REDIS_PASSWORD': {
    env: () => ({ ...hostEnv(), REDIS_PASSWORD: WRONG }),
    variable: 'REDIS_PASSWORD',
    cause: /refused the password/,
  },
  'the password with its space dropped': {
    env: () => ({ ...hostEnv(), REDIS_PASSWORD: PASSWORD.replace(' ', '') }),
    variable: 'REDIS_PASSWORD',
    cause: /refused the password/,
  },
  'no password for a server that requires one': {
    env: () => ({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(redis.port) }),
    variable: 'REDIS_PASSWORD',
    cause: /requires a password/,
  },
  'a wrong password in REDIS_URL': { env: () => ({ REDIS_URL: url(`:${WRONG}@`) }), variable: 'REDIS_URL', cause: /refused the password/ },
  'a port nothing listens on': {
    env: async () => ({ REDIS_URL: `redis://:${URL_PASSWORD}@127.0.0.1:${await refusedPort()}/0` }),
    variable: 'REDIS_URL',
    cause: /cannot reach Redis at .*ECONNREFUSED/,
    waits: true,
  },
  'a host that does not exist': {
    env: () => ({ REDIS_HOST: 'no-such-host.invalid', REDIS_PORT: String(redis.port), REDIS_PASSWORD: PASSWORD }),
    variable: 'REDIS_HOST/REDIS_PORT',
    cause: /cannot reach Redis at .*(ENOTFOUND|EAI_AGAIN)/,
    waits: true,
  },
  'a host that accepts connections and never answers': {
    env: () => ({
      REDIS_URL: `redis://:${URL_PASSWORD}@127.0.0.1:${silent.port}/0`,
      REDIS_CONNECT_TIMEOUT_MS: '500',
      QG_REDIS_TIMEOUT_MS: '500',
    }),
    variable: 'REDIS_URL',
    cause: /cannot reach Redis at .*: no answer within 500 ms/,
    waits: true,
  },
  'an HTTP port, not a Redis': {
    env: () => ({ REDIS_URL: `redis://:${URL_PASSWORD}@127.0.0.1:${httpPort}/0` }),
    variable: 'REDIS_URL',
    cause: /127\.0\.0\.1:\d+\/0 is not a Redis: it answers another protocol \(an HTTP port\?\)/,
  },
  'TLS (rediss://) to a Redis without TLS': {
    env: () => ({
      REDIS_URL: `rediss://:${URL_PASSWORD}@127.0.0.1:${redis.port}/0`,
      REDIS_CONNECT_TIMEOUT_MS: '1000',
      QG_REDIS_TIMEOUT_MS: '1000',
    }),
    variable: 'REDIS_URL',
    cause: /is a Redis without TLS: the TLS handshake got no answer; use redis:\/\//,
  },
  'a port out of range in REDIS_URL': {
    env: () => ({ REDIS_URL: `redis://:${URL_PASSWORD}@127.0.0.1:99999/0` }),
    variable: 'REDIS_URL',
    cause: /is not a valid URL/,
  },
  'an unescaped / in the URL password': {
    env: () => ({ REDIS_URL: `redis://:${WRONG}/x@127.0.0.1:${redis.port}/0` }),
    variable: 'REDIS_URL',
    cause: /is not a valid URL/,
  },
  'a URL path that is not a database number': {
    env: () => ({ REDIS_URL: url(`:${URL_PASSWORD}@`, '/quantum') }),
    variable: 'REDIS_URL',
    cause: /path must be a database number/,
  },
};

function expectOneCleanLine(output: { stdout: string; stderr: string }, { variable, cause }: WiringCase): void {
  const all = `${output.stdout}${output.stderr}`;
  const naming = all.split('\n').filter((line) => line.includes(`${variable}:`));
  expect(naming, all).toHaveLength(1);
  expect(naming[0]).toMatch(cause);
  expect(all).not.toContain('    at ');
  for (const secret of [PASSWORD, URL_PASSWORD, WRONG]) expect(all).not.toContain(secret);
}

describe('npm start with a wiring mistake', () => {
  const refused = Object.keys(cases).filter((name) => !cases[name]!.waits);
  const waitedFor = Object.keys(cases).filter((name) => cases[name]!.waits);

  it.each(waitedFor)('waits for %s: one line naming the variable, no secret, no stack, and a clean stop meanwhile', async (name) => {
    const wiring = cases[name]!;
    const result = await start(await wiring.env(), /waiting for Redis to answer/);

    expect(result.code).toBe(0);
    expectOneCleanLine(result, wiring);
    expect(`${result.stdout}${result.stderr}`).toContain('waiting for it: the gates start when it answers');
  });

  it.each(refused)('refuses %s: exit 1, one line naming the variable, no secret, no stack', async (name) => {
    const wiring = cases[name]!;
    const result = await start(await wiring.env());

    expect(result.code).toBe(1);
    expectOneCleanLine(result, wiring);
    // Refused before any gate started, not after running on the wrong database.
    expect(result.stdout).not.toContain('starting quantum-gates');
  });
});

describe('npm start with HANDLERS hosting the governor without its companions', () => {
  it('warns at start naming the companions left out (governor-switches sets the kill-switch and disarm alerts)', async () => {
    const result = await start(
      // A database of its own: the gates it starts create groups and keys the CLI tests below must not see.
      { REDIS_URL: url(`:${URL_PASSWORD}@`, '/4'), HANDLERS: 'governor,governor-cooldown' },
      /HANDLERS hosts governor without/,
    );

    expect(`${result.stdout}${result.stderr}`).toMatch(
      /HANDLERS hosts governor without governor-switches, governor-exit-locks, governor-reservation-results: unless another process hosts them/,
    );
  });
});

describe('the CLI with a wiring mistake', () => {
  it.each(Object.keys(cases))('refuses %s with one line naming the variable, no secret, no stack', async (name) => {
    const wiring = cases[name]!;
    const result = await runCli(['kill', 'status'], await wiring.env());

    // A variable that does not parse is invalid input (2), a Redis that refuses is a failure (1).
    expect(result.code).toBe(/valid URL|database number/.test(wiring.cause.source) ? 2 : 1);
    expectOneCleanLine(result, wiring);
  });

  it('writes nowhere when the database does not exist, rather than to database 0, and to the right one when it does', async () => {
    const refused = await runCli(['kill', 'on', '--reason', 'wiring test'], { ...hostEnv(), REDIS_DB: '99' });
    expect(refused.code).toBe(1);
    expect(await redis.client.dbsize()).toBe(0);

    const done = await runCli(['kill', 'on', '--reason', 'wiring test'], { ...hostEnv(), REDIS_DB: '3' });
    expect(done.code, done.stderr).toBe(0);
    await redis.client.select(3);
    expect(await redis.client.get('quantum:kill')).toBe('1');
    await redis.client.flushall();
    await redis.client.select(0);
  });
});
