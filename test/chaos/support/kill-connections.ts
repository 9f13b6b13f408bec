import type { Redis } from 'ioredis';

/** CLIENT KILL of every connection the gates' processes opened (named quantum-gates:…); the number killed. */
export async function killGateConnections(redis: Redis): Promise<number> {
  const list = (await redis.call('CLIENT', 'LIST')) as string;
  let killed = 0;
  for (const line of list.split('\n').filter((l) => /name=quantum-gates:/.test(l))) {
    await redis.call('CLIENT', 'KILL', 'ID', /id=(\d+)/.exec(line)![1]!).catch(() => undefined);
    killed += 1;
  }
  return killed;
}
