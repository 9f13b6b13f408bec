import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isListening, startLocalRedis, type LocalRedis } from '../../app/local-redis.js';
import { freePort } from '../support/redis-server.js';

/** Field 5 of /proc/<pid>/stat: the process group. The name (field 2) may hold spaces, so count from its ")". */
async function processGroup(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

describe("npm start's private redis-server", () => {
  let local: LocalRedis | undefined;
  let root: string | undefined;
  afterAll(async () => {
    await local?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('runs in a process group of its own, so a Ctrl-C to the terminal leaves it up for the drain', async () => {
    root = await mkdtemp(resolve(tmpdir(), 'qg-local-redis-'));
    const port = await freePort();
    local = await startLocalRedis(root, port);

    expect(local.pid).toBeDefined();
    expect(await processGroup(local.pid!)).toBe(local.pid);
    expect(await processGroup(local.pid!)).not.toBe(await processGroup(process.pid));

    await local.stop();
    expect(await isListening('127.0.0.1', port)).toBe(false);
    local = undefined;
  });
});
