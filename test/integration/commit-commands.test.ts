import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { fieldsToRecord } from '../../schemas/fields.js';
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
 * 13, 19, 16, 21 and 8. outcome-heat's rose from 14 in 1.11.0: a followed decision's samples are added
 * to the due set in its commit (a ZADD a horizon, and the TYPE check of that key), where a BullMQ
 * job added after the commit cost it ~11 commands more (bench/outcome-follow.ts).
 */
const MAX_PER_COMMIT: Readonly<Record<string, number>> = {
  'heat-gate': 10,
  'heat-bridge': 16,
  'outcome-heat': 18,
  governor: 19,
  'outcome-governor': 6,
};

/** A MONITOR line: the client (an address, or `lua` for a script's own command) and its quoted words. */
const LINE = /^\+?\d+\.\d+ \[\d+ (\S+)\] (.*)$/;
const WORD = /"((?:[^"\\]|\\.)*)"/g;

/** One commit of a gate: its commands by name and the entries it acknowledged (stream, id). */
interface Commit {
  readonly gate: string;
  readonly counts: Map<string, number>;
  readonly acked: { stream: string; id: string }[];
}

/**
 * The commits of each gate, from MONITOR's lines (INFO commandstats counts every connection's
 * commands together, the decisions' reads, the health probe and BullMQ among them): the commands a
 * gate's commit connection sent, and those each of its scripts ran (MONITOR prints a script's own
 * commands, `lua`, right after its call; Redis runs nothing else meanwhile). A commit ends at its
 * XACK's script; commands the connection sent before it belong to it.
 */
function commitsOf(lines: readonly string[], gateOf: ReadonlyMap<string, string>): Commit[] {
  const commits: Commit[] = [];
  const open = new Map<string, Commit>();
  let current: string | undefined;
  let ended: Commit | undefined;
  for (const line of lines) {
    const match = LINE.exec(line);
    if (!match) continue;
    const [, client, quoted] = match;
    if (client !== 'lua') {
      current = gateOf.get(client!);
      ended = undefined;
    }
    if (current === undefined) continue;
    const words = [...quoted!.matchAll(WORD)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
    const commit = ended ?? open.get(current) ?? { gate: current, counts: new Map<string, number>(), acked: [] };
    if (!ended) open.set(current, commit);
    const command = words[0]!.toLowerCase();
    commit.counts.set(command, (commit.counts.get(command) ?? 0) + 1);
    if (command === 'xack') {
      for (const id of words.slice(3)) commit.acked.push({ stream: words[1]!, id });
      // The script's commands after its XACK are still this commit's.
      if (!ended) commits.push(commit);
      ended = commit;
      open.delete(current);
    }
  }
  return commits;
}

/** The plan_id of a stream entry, read back after the window (every gate's input names one). */
async function planIdOf(r: Redis, stream: string, id: string): Promise<string | undefined> {
  const [entry] = await r.xrange(stream, id, id);
  return entry === undefined ? undefined : fieldsToRecord(entry[1]).plan_id;
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

/** A flat XINFO reply as a map. */
function infoMap(flat: unknown[]): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(String(flat[i]), flat[i + 1]);
  return map;
}

/**
 * True when every group of every stream has read and acknowledged all its entries: nothing pending,
 * and its last delivered id the stream's last. Not by `lag`, which Redis answers nil where it cannot
 * count it (a trimmed stream a group was created on): read as 0, a group still behind passed for
 * caught up, and the next message reached it in the same batch as the one before.
 */
async function quiet(r: Redis): Promise<boolean> {
  const [, found] = (await r.call('SCAN', '0', 'TYPE', 'stream', 'COUNT', '10000')) as [string, string[]];
  for (const stream of found) {
    const last = infoMap((await r.xinfo('STREAM', stream)) as unknown[]).get('last-generated-id');
    for (const flat of (await r.xinfo('GROUPS', stream)) as unknown[][]) {
      const group = infoMap(flat);
      if (Number(group.get('pending')) !== 0 || group.get('last-delivered-id') !== last) return false;
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
    const proposalIds: string[] = [];
    const planIds: string[] = [];
    try {
      for (let n = 1; n <= MESSAGES; n++) {
        proposalIds.push(`cc-${n}`);
        await redis.client.xadd(streams.harvestProposal, '*', ...proposal(n));
        await settle(`proposal ${n} through every gate`);
      }
      for (let n = 1; n <= MESSAGES; n++) {
        planIds.push(`gov-${2 * n}`);
        await redis.client.xadd(streams.applyPlan, '*', ...planFields(2 * n));
        await settle(`plan ${n} through every gate`);
      }
    } finally {
      monitor.stop();
    }
    // A commit is measured when what it acknowledged stems from a measured message; any other
    // commit in the window (an event nobody here sent, a cooldown's expiry) is printed, not counted.
    const measuredPlans = new Set([...proposalIds, ...planIds]);
    const measured = new Map<string, Commit[]>();
    const others: string[] = [];
    for (const commit of commitsOf(lines, await commitConnections(redis.client))) {
      const plans = await Promise.all(commit.acked.map(({ stream, id }) => planIdOf(redis.client, stream, id)));
      if (plans.length > 0 && plans.every((plan) => plan !== undefined && measuredPlans.has(plan))) {
        measured.set(commit.gate, [...(measured.get(commit.gate) ?? []), commit]);
      } else {
        others.push(
          `${commit.gate} acknowledged ${commit.acked.map(({ stream, id }, i) => `${stream} ${id} (plan_id ${plans[i] ?? 'none'})`).join(', ')}`,
        );
      }
    }
    if (others.length > 0) console.log(`also in the window, not counted:\n${others.join('\n')}`);
    const rows: string[] = [];
    for (const gate of [...PROPOSAL_GATES, ...PLAN_GATES]) {
      const commits = measured.get(gate) ?? [];
      expect(commits.length, `${gate} commits each message alone`).toBe(MESSAGES);
      expect(
        commits.map((commit) => commit.acked.length),
        `${gate} acknowledges one entry a commit`,
      ).toEqual(commits.map(() => 1));
      const counts = new Map<string, number>();
      for (const commit of commits) for (const [name, n] of commit.counts) counts.set(name, (counts.get(name) ?? 0) + n);
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
