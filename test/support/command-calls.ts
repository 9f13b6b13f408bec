import type { Redis } from 'ioredis';

/**
 * How many times redis-server has run `command` since it started (INFO commandstats), e.g.
 * 'xautoclaim' or 'xinfo|consumers'. A test that must let a runtime's periodic pass run counts
 * that pass's own command instead of sleeping for a few of its intervals.
 */
export async function commandCalls(redis: Pick<Redis, 'info'>, command: string): Promise<number> {
  const stats = await redis.info('commandstats');
  const line = stats.split('\r\n').find((l) => l.startsWith(`cmdstat_${command}:`));
  const match = line === undefined ? undefined : /calls=(\d+)/.exec(line);
  return match ? Number(match[1]) : 0;
}
