import { afterEach, describe, expect, it } from 'vitest';
import { parseRuntimeConfig } from '../../runtime/host/config.js';
import { connectRedis, type RedisClient } from '../../runtime/host/redis.js';
import { freePort } from '../support/redis-server.js';

describe('connection roles', () => {
  const opened: RedisClient[] = [];
  afterEach(() => {
    for (const client of opened.splice(0)) client.disconnect();
  });

  async function unreachable(role: Parameters<typeof connectRedis>[1]): Promise<RedisClient> {
    const port = await freePort(); // nothing listens there
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
