import { afterEach, describe, expect, it } from 'vitest';
import { preflightRedis, RedisWiringError } from '../../app/redis-preflight.js';
import { allHandlers } from '../../handlers/index.js';
import { keys, streams } from '../../schemas/keys.js';
import { parseRuntimeConfig } from '../../runtime/host/config.js';
import { REDIS_COMMANDS } from '../../app/redis-commands.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { startTestRedis, usePrivateRedis } from '../support/redis-server.js';
import { createTestRuntime, governorDecided, readyAt, produce, waitFor } from '../support/runtime.js';
import { runCli } from './cli-harness.js';

/**
 * Issue #71 item 1: what the gates need of Redis is the list app/redis-commands.ts holds,
 * and nothing else. On a Redis with RENAME renamed away, an account allowed exactly that list runs
 * every gate and decides opens and closes; an account missing one command of it, or a Redis that
 * renamed one away, is refused at start in one line naming it and the rule to add.
 */
const USER = 'gates';
const PASSWORD = 'account-secret';
const GATES = allHandlers.map((handler) => handler.name);
const plan = (planId: string, symbol: string, action: string) => ({
  plan_id: planId,
  symbol,
  action,
  decision: 'EXECUTE',
  kill_score: '0.1',
  side: 'BUY',
  qty: '1',
  price: '100',
  timestamp: String(Date.now() / 1000),
});

describe('the gates’ Redis account: the one list, checked at start', () => {
  // RENAME renamed away, as the measured case's Redis: the gates must not need it.
  const redis = usePrivateRedis({ extraArgs: ['--rename-command', 'RENAME', '""'] });
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    await redis.client.call('ACL', 'DELUSER', USER);
  });

  /** An ACL user allowed every listed command (and `extra` rules after), on every key and channel. */
  async function account(...extra: string[]): Promise<string> {
    const allowed = REDIS_COMMANDS.map((need) => `+${need.command}`);
    await redis.client.call('ACL', 'SETUSER', USER, 'reset', 'on', `>${PASSWORD}`, '~*', '&*', '-@all', ...allowed, ...extra);
    return `redis://${USER}:${PASSWORD}@127.0.0.1:${redis.port}/0`;
  }

  it('an account allowed exactly the list, on a Redis without RENAME: the start passes, every gate runs, opens and closes are decided, no RENAME is run', async () => {
    const url = await account();
    const config = parseRuntimeConfig({ REDIS_URL: url });
    // CONFIG GET is not on the list: the start warns that it could not read the eviction policy, and runs.
    expect(await preflightRedis(config, 2000, GATES)).toMatch(/maxmemory-policy .* not checked \(CONFIG GET refused: NOPERM/);
    await redis.client.hset(keys.marketState('AUSDT'), 'mark_price', '100', 'ts', String(Date.now() / 1000));
    runtime = await createTestRuntime(url, { GOV_SYMBOL_COOLDOWN_SECONDS: '0' });
    const base = String(await runtime.start());
    await waitFor(async () => (await readyAt(base)).status === 200, { what: '/ready 200 on the listed account' });
    await produce(redis.client, streams.applyPlan, [plan('open-1', 'AUSDT', 'OPEN_LONG'), plan('close-1', 'BUSDT', 'FULL_CLOSE_PROPOSED')]);
    const decided = await governorDecided(redis.client, 2);
    expect(decided.map((e) => `${e.plan_id} ${e.event} ${e.reason}`)).toEqual([
      'open-1 permit all_gates_passed',
      'close-1 permit close_bypass',
    ]);
    expect((await readyAt(base)).status).toBe(200);
    // The commit asks the ACL itself; it never writes to learn whether it may (the RENAME probe ran 3.1 a second at idle).
    expect(await redis.client.info('commandstats')).not.toMatch(/cmdstat_rename:/);
  }, 60_000);

  it('an account missing one listed command: the start refuses in one line naming it and the ACL rule to add', async () => {
    const url = await account('-xack');
    const refused = await preflightRedis(parseRuntimeConfig({ REDIS_URL: url }), 2000, GATES).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RedisWiringError);
    const message = (refused as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toMatch(/may not run XACK .*add \+xack to its ACL user/);
  });

  it('a gate’s own command is checked only where the gate is hosted', async () => {
    const url = await account('-scan');
    const config = parseRuntimeConfig({ REDIS_URL: url });
    expect(await preflightRedis(config, 2000, ['governor'])).not.toMatch(/SCAN/);
    const refused = await preflightRedis(config, 2000, ['position-index']).catch((error: unknown) => error);
    expect((refused as Error).message).toMatch(/may not run SCAN .*\+scan/);
  });

  it('`doctor` checks the same list against a running Redis whose ACL changed: one line per command missing, exit 1; none, exit 0', async () => {
    const url = await account();
    const healthy = await runCli(['doctor'], { REDIS_URL: url });
    expect(healthy.code, healthy.stderr).toBe(0);
    expect(healthy.stdout).toMatch(/may run all \d+ commands/);
    await redis.client.call('ACL', 'SETUSER', USER, '-xack', '-scan');
    const changed = await runCli(['doctor'], { REDIS_URL: url });
    expect(changed.code, changed.stderr).toBe(1);
    expect(changed.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/may not run XACK \(acknowledging a committed entry\): add \+xack to its ACL user/),
      expect.stringMatching(/may not run SCAN .*add \+scan/),
    ]);
    // Per role: the governor's process needs no SCAN.
    const governor = await runCli(['doctor', '--gates', 'governor', '--json'], { REDIS_URL: url });
    expect(JSON.parse(governor.stdout)).toMatchObject({ gates: ['governor'], missing: [{ command: 'xack', problem: 'refused' }] });
  }, 60_000);
});

describe('a Redis that renamed a command the gates need away', () => {
  it('is refused at start in one line naming the command', async () => {
    const renamed = await startTestRedis({ extraArgs: ['--rename-command', 'XAUTOCLAIM', '""'] });
    try {
      const refused = await preflightRedis(parseRuntimeConfig({ REDIS_URL: renamed.url }), 2000, ['governor']).catch(
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(RedisWiringError);
      expect((refused as Error).message).toMatch(/does not know XAUTOCLAIM \(renamed away by rename-command\?\)/);
    } finally {
      await renamed.stop();
    }
  });
});
