import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { streams } from '../../schemas/keys.js';
import { planFields, seedPortfolio } from '../../bench/governor-plans.js';
import { monitorLines } from '../support/monitor-lines.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { startRuntime, waitFor } from '../support/runtime.js';

/** Messages of each kind measured, each its own batch (the pipeline's rates: one arrives alone). */
const MESSAGES = 6;

/**
 * The commits each message causes, by gate: a proposal is committed by the heat gate, the heat
 * bridge and the heat outcome follower; a plan by the governor and the governor outcome follower.
 */
const PROPOSAL_GATES = ['heat-gate', 'heat-bridge', 'outcome-heat'];
const PLAN_GATES = ['governor', 'outcome-governor'];

/**
 * The most Redis commands one commit may cost, by gate, at one message per batch: the commit
 * connection's own commands and those its scripts run. A ratchet: lower it when a commit costs less.
 * Before issue #72 (a SETRANGE probe, a second and third XPENDING, a TYPE of the first write's key):
 * 13, 19, 16, 21 and 8.
 */
const MAX_PER_COMMIT: Readonly<Record<string, number>> = {
  'heat-gate': 10,
  'heat-bridge': 16,
  'outcome-heat': 14,
  governor: 19,
  'outcome-governor': 6,
};

/** A MONITOR line: the client (an address, or `lua` for a script's own command) and the command. */
const LINE = /^\+?\d+\.\d+ \[\d+ (\S+)\] "([^"]+)"/;

/**
 * Commands by gate, from MONITOR's lines (INFO commandstats counts every connection's commands
 * together, the decisions' reads, the health probe and BullMQ among them): those a gate's commit connection sent, and the commands
 * each of its scripts ran (MONITOR prints a script's own commands, `lua`, right after its call;
 * Redis runs nothing else meanwhile).
 */
function tally(lines: readonly string[], gateOf: ReadonlyMap<string, string>): Map<string, Map<string, number>> {
  const byGate = new Map<string, Map<string, number>>();
  let current: string | undefined;
  for (const line of lines) {
    const match = LINE.exec(line);
    if (!match) continue;
    const [, client, name] = match;
    if (client !== 'lua') current = gateOf.get(client!);
    if (current === undefined) continue;
    const counts = byGate.get(current) ?? new Map<string, number>();
    byGate.set(current, counts);
    const command = name!.toLowerCase();
    counts.set(command, (counts.get(command) ?? 0) + 1);
  }
  return byGate;
}

/** The gate of each commit connection (quantum-gates:<gate>:commit), by its address. */
async function commitConnections(r: Redis): Promise<Map<string, string>> {
  const list = (await r.call('CLIENT', 'LIST')) as string;
  const gates = new Map<string, string>();
  for (const row of list.split('\n')) {
    const addr = /\baddr=(\S+)/.exec(row)?.[1];
    const gate = /\bname=quantum-gates:(\S+):commit\b/.exec(row)?.[1];
    if (addr && gate) gates.set(addr, gate);
  }
  return gates;
}

/** True when every group of every stream has read and acknowledged all its entries. */
async function quiet(r: Redis): Promise<boolean> {
  const [, found] = (await r.call('SCAN', '0', 'TYPE', 'stream', 'COUNT', '10000')) as [string, string[]];
  for (const stream of found) {
    const groups = (await r.xinfo('GROUPS', stream)) as unknown[][];
    for (const flat of groups) {
      const group = new Map<string, unknown>();
      for (let i = 0; i + 1 < flat.length; i += 2) group.set(String(flat[i]), flat[i + 1]);
      if (Number(group.get('pending')) !== 0 || Number(group.get('lag') ?? 0) !== 0) return false;
    }
  }
  return true;
}

describe("a commit's Redis commands at one message per batch (issue #72 item 1)", () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const settle = (what: string) => waitFor(() => quiet(redis.client), { what, intervalMs: 10 });
  const proposal = (n: number) => ['plan_id', `cc-${n}`, 'symbol', `SYM${n % 20}USDT`, 'action', 'FULL_CLOSE'];

  it('costs each gate at most its ratchet of commands a commit', async () => {
    await seedPortfolio(redis.client, 20);
    runtime = await startRuntime(redis.url, {}, allHandlers);
    await settle('the held positions applied');
    // A first message of each kind loads the scripts (NOSCRIPT, then EVAL): not counted.
    await redis.client.xadd(streams.harvestProposal, '*', ...proposal(0));
    await redis.client.xadd(streams.applyPlan, '*', ...planFields(0));
    await settle('the warm-up decided');

    const lines: string[] = [];
    const monitor = await monitorLines(redis.url, (line) => lines.push(line));
    try {
      for (let n = 1; n <= MESSAGES; n++) {
        await redis.client.xadd(streams.harvestProposal, '*', ...proposal(n));
        await settle(`proposal ${n} through every gate`);
      }
      for (let n = 1; n <= MESSAGES; n++) {
        await redis.client.xadd(streams.applyPlan, '*', ...planFields(2 * n));
        await settle(`plan ${n} through every gate`);
      }
    } finally {
      monitor.stop();
    }
    const byGate = tally(lines, await commitConnections(redis.client));
    const rows: string[] = [];
    for (const gate of [...PROPOSAL_GATES, ...PLAN_GATES]) {
      const counts = byGate.get(gate) ?? new Map<string, number>();
      expect(counts.get('xack'), `${gate} commits each message alone`).toBe(MESSAGES);
      const total = [...counts.values()].reduce((sum, n) => sum + n, 0) / MESSAGES;
      const by = [...counts]
        .sort((a, b) => b[1] - a[1])
        .map(([name, n]) => `${name} ${(n / MESSAGES).toFixed(1)}`)
        .join(', ');
      rows.push(`${gate.padEnd(18)} ${total.toFixed(1).padStart(5)}  ${by}`);
      expect(total, `${gate}: ${by}`).toBeLessThanOrEqual(MAX_PER_COMMIT[gate]!);
    }
    console.log(`commands a commit, one message a batch:\n${rows.join('\n')}`);
  });
});
