import { Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRuntimeConfig } from '../../runtime/host/config.js';
import { GateReader } from '../../runtime/host/gate-reader.js';
import { connectRedis, waitUntilReady, type ConnectionRole, type RedisClient } from '../../runtime/host/redis.js';
import { refusedPort, usePrivateRedis } from '../support/redis-server.js';

describe('connection roles', () => {
  const opened: RedisClient[] = [];
  afterEach(() => {
    for (const client of opened.splice(0)) client.disconnect();
  });

  async function unreachable(role: Parameters<typeof connectRedis>[1]): Promise<RedisClient> {
    const port = await refusedPort(); // nothing listens there
    const client = connectRedis(parseRuntimeConfig({ REDIS_URL: `redis://127.0.0.1:${port}` }), role, `test:${role}`);
    client.on('error', () => undefined);
    opened.push(client);
    return client;
  }

  it('a committer connection never queues a command while disconnected (a WATCH would not survive the reconnect)', async () => {
    const client = await unreachable('transactions');
    await expect(client.multi().set('k', 'v').exec()).rejects.toThrow(/enableOfflineQueue/);
    await expect(client.get('k')).rejects.toThrow(/enableOfflineQueue/);
  });
});

describe('the protocol every connection speaks', () => {
  const redis = usePrivateRedis();
  const opened: RedisClient[] = [];
  afterEach(() => {
    for (const client of opened.splice(0)) client.disconnect();
  });

  async function connected(role: ConnectionRole): Promise<RedisClient> {
    const client = connectRedis(parseRuntimeConfig({ REDIS_URL: redis.url }), role, `test:${role}`);
    opened.push(client);
    await waitUntilReady(client);
    return client;
  }

  /** Each connection's name and RESP version, as Redis lists them. */
  async function protocols(): Promise<[name: string, resp: string][]> {
    const list = String(await redis.client.call('CLIENT', 'LIST'));
    return list.split('\n').flatMap((line) => {
      const match = /\bname=(\S*).*\bresp=(\d)/.exec(line);
      return match ? [[match[1]!, match[2]!] as [string, string]] : [];
    });
  }

  it('is RESP2 on every role: the consumer reads XREADGROUP through call(), which under RESP3 answers [stream, entries] unnested', async () => {
    await redis.client.xadd('in', '1-1', 'n', '1');
    await redis.client.xgroup('CREATE', 'in', 'g', '0');
    const roles = ['commands', 'dedicated', 'transactions', 'bullmq'] as const;
    const clients = await Promise.all(roles.map(connected));
    const seen = new Map(await protocols());
    for (const role of roles) expect(seen.get(`test:${role}`), role).toBe('2');
    const dedicated = clients[roles.indexOf('dedicated')]!;
    expect(await dedicated.call('XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', 1, 'STREAMS', 'in', '>')).toEqual([
      ['in', [['1-1', ['n', '1']]]],
    ]);
  });

  it("is RESP2 on BullMQ's own connections, which it opens from the gates' one", async () => {
    const worker = new Worker('resp-check', async () => undefined, { connection: await connected('bullmq'), prefix: 'bull' });
    try {
      await worker.waitUntilReady();
      const bullmqs = (await protocols()).filter(([name]) => name.startsWith('bull:'));
      expect(bullmqs.length).toBeGreaterThan(0);
      expect(bullmqs.filter(([, resp]) => resp !== '2')).toEqual([]);
    } finally {
      await worker.close();
    }
  });
});

describe('the handlers’ reader on one node (the commands connection)', () => {
  const redis = usePrivateRedis();

  it('answers INFO memory as INFO does, sent through the auto-pipeline with the reads beside it', async () => {
    const client = connectRedis(parseRuntimeConfig({ REDIS_URL: redis.url }), 'commands', 'test:info');
    try {
      await waitUntilReady(client);
      // The governor reads maxmemory_policy from it (handlers/governor/eviction.ts).
      const reader = new GateReader(client);
      const [memory] = await Promise.all([reader.info('memory'), reader.get('k')]);
      expect(memory).toMatch(/^maxmemory_policy:noeviction/m);
      // The client itself is ioredis's own.
      expect(await client.info('server')).toMatch(/^redis_version:/m);
    } finally {
      client.disconnect();
    }
  });
});
