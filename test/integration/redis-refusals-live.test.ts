import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { Redis, ReplyError } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyRedisError } from '../../runtime/engine/redis-errors.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { waitFor } from '../support/runtime.js';

/**
 * Issue #71 item 4, seen live: each refusal staged on a private redis-server, its text as Redis
 * words it, and what the classifier (runtime/contract/redis-refusals.ts) makes of it. Shutting
 * down is not staged (a server that answers while shutting down is a race to catch); its text is
 * the unit test's (test/unit/redis-refusals.test.ts).
 */
describe('Redis refusals staged live are Redis’s state, held, never the message’s', () => {
  // CONFIG SET dir is a protected setting: allowed here to stage a save that fails.
  const redis = usePrivateRedis({ extraArgs: ['--enable-protected-configs', 'yes'] });
  const opened: Redis[] = [];
  afterEach(async () => {
    for (const client of opened.splice(0)) client.disconnect();
  });

  /** A client that connects once, as the gates' connections do on a reconnect, with its errors. */
  function oneShot(credentials: { username?: string; password?: string } = {}): { client: Redis; errors: Error[] } {
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...credentials });
    const errors: Error[] = [];
    client.on('error', (error: Error) => errors.push(error));
    opened.push(client);
    return { client, errors };
  }

  /**
   * The refusal a first PING meets: Redis's own words, which ioredis gives the command, or, when
   * Redis refused the connection itself and closed it (the command then says only "Connection is
   * closed."), the connection's error event.
   */
  async function refusal(credentials: { username?: string; password?: string } = {}): Promise<Error> {
    const { client, errors } = oneShot(credentials);
    const error = await client.ping().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error, 'the command was refused').toBeInstanceOf(Error);
    if (!/connection is closed/i.test(error!.message)) return error!;
    await waitFor(async () => errors.length > 0, { what: 'the connection’s error' });
    return errors[0]!;
  }

  /** The first line a plain connection to the server is sent, without the RESP error's '-'. */
  function firstLine(): Promise<string> {
    return new Promise((resolvePromise, reject) => {
      const socket = connect(redis.port, '127.0.0.1');
      socket.once('error', reject);
      socket.once('data', (chunk: Buffer) => {
        socket.destroy();
        resolvePromise(chunk.toString('utf8').split('\r\n')[0]!.replace(/^-/, ''));
      });
      socket.once('connect', () => socket.write('PING\r\n'));
    });
  }

  it('MISCONF (a failed RDB save with stop-writes-on-bgsave-error): misconf, a write refusal, held', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qg-misconf-'));
    const before = (await redis.client.config('GET', 'dir'))[1]!;
    try {
      await redis.client.config('SET', 'dir', dir);
      await redis.client.config('SET', 'save', '3600 1');
      // The save's directory gone: the forked save cannot create its file.
      rmSync(dir, { recursive: true });
      await redis.client.bgsave();
      await waitFor(async () => (await redis.client.info('persistence')).includes('rdb_last_bgsave_status:err'), {
        what: 'the background save failed',
      });
      const error = await redis.client.set('k', 'v').then(
        () => new Error('accepted'),
        (e: unknown) => e as Error,
      );
      expect(error.message).toMatch(/^MISCONF/);
      expect(classifyRedisError(error)).toMatchObject({ cause: 'misconf', redisState: true, refusesWrites: true });
    } finally {
      await redis.client.config('SET', 'save', '');
      await redis.client.config('SET', 'dir', before);
    }
  });

  it('max number of clients reached: unavailable, held', async () => {
    const connected = Number(/connected_clients:(\d+)/.exec(await redis.client.info('clients'))![1]);
    await redis.client.config('SET', 'maxclients', String(connected));
    try {
      // Redis writes its refusal and closes at once; ioredis, writing its first command meanwhile,
      // often reports only EPIPE or a closed connection: the words are read off the socket.
      const error = new ReplyError(await firstLine());
      expect(error.message).toMatch(/max number of clients reached/i);
      expect(classifyRedisError(error)).toMatchObject({ cause: 'unavailable', redisState: true });
    } finally {
      await redis.client.config('SET', 'maxclients', '10000');
    }
  });

  it('NOAUTH (a password set on a running Redis) and WRONGPASS (one rotated): auth, held', async () => {
    await redis.client.config('SET', 'requirepass', 'rotated-secret');
    try {
      const noauth = await refusal();
      expect(noauth.message).toMatch(/^NOAUTH/);
      expect(classifyRedisError(noauth)).toMatchObject({ cause: 'auth', redisState: true });
      const wrongpass = await refusal({ password: 'the-old-secret' });
      expect(wrongpass.message).toMatch(/^WRONGPASS/);
      expect(classifyRedisError(wrongpass)).toMatchObject({ cause: 'auth', redisState: true });
    } finally {
      // The fixture's client authenticated before the password was set: it stays so.
      await redis.client.config('SET', 'requirepass', '');
    }
  });
});
