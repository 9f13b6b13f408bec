import { createHash } from 'node:crypto';
import { Cluster } from 'ioredis';
import { describeRedis, type RedisClient, type RuntimeConfig } from '../runtime/host/index.js';

/**
 * Which Redis a client talks to, told apart from any other: a server's `run_id` (new at each
 * start of redis-server, the same for every client of it, whatever address reached it), or for a
 * Cluster a digest of its node ids. The gates report theirs in /status and `quantum-gates status`
 * compares it with its own, so the status shown is never another deployment's.
 */
export async function redisIdentity(client: RedisClient): Promise<string> {
  if (client instanceof Cluster) {
    const nodes = String(await client.call('CLUSTER', 'NODES'));
    const ids = nodes
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter(Boolean)
      .sort();
    return `cluster:${createHash('sha256').update(ids.join(',')).digest('hex').slice(0, 40)}`;
  }
  const runId = /^run_id:(\w+)/m.exec(await client.info('server'))?.[1];
  if (runId === undefined) throw new Error('INFO server has no run_id');
  return `run_id:${runId}`;
}

/**
 * Where the configuration says Redis is, in one form whatever form it was given in: host, port and
 * db always all three (a REDIS_URL may leave port and db implicit), never a user or password.
 */
export function redisAddress(config: RuntimeConfig): string {
  if (!config.REDIS_URL || config.REDIS_CLUSTER_NODES || config.REDIS_SENTINELS) return describeRedis(config);
  const url = new URL(config.REDIS_URL);
  const db = url.pathname.replace(/^\//, '') || url.searchParams.get('db') || '0';
  return `${url.protocol}//${url.hostname}:${url.port || '6379'}/${db}`;
}
