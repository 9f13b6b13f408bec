/**
 * Where a lone message's Redis commands go (`npx tsx bench/commands-by-gate.ts`): every gate in one
 * process from the sources, 20 held positions, a private redis-server; one proposal, then one plan,
 * a second apart (each its own batch, as upstream sends them), each kind for COUNT seconds under
 * MONITOR. Each command is put to the connection that sent it (CLIENT SETNAME: a gate's commit
 * connection, the shared reads connection, BullMQ's, each gate's blocked read) with its scripts'
 * own commands (MONITOR's `lua` lines follow their call), less an idle window's rate. The pipeline-rates
 * row of docs/performance.md counts the same commands with INFO commandstats; this says whose they are.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { allHandlers } from '../handlers/index.js';
import { streams } from '../schemas/keys.js';
import { monitorLines } from '../test/support/monitor-lines.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { startRuntime } from '../test/support/runtime.js';
import { planFields, seedPortfolio } from './governor-plans.js';

const COUNT = Number(process.env.COUNT ?? 10);
const LINE = /^\+?\d+\.\d+ \[\d+ (\S+)\] "([^"]*)"/;

const redis = await startTestRedis();
const r = redis.client;
await seedPortfolio(r, 20);
const runtime = await startRuntime(redis.url, {}, allHandlers);
await sleep(3_000);
const proposal = (n: number) => ['plan_id', `cg-${n}`, 'symbol', `SYM${n % 20}USDT`, 'action', 'FULL_CLOSE'];
// The first of each kind loads the scripts and the key watch's kept replies: not measured.
await r.xadd(streams.harvestProposal, '*', ...proposal(0));
await r.xadd(streams.applyPlan, '*', ...planFields(0));
await sleep(2_000);

/** The connections' names by address, the bench's own unnamed. */
async function names(): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const row of String(await r.call('CLIENT', 'LIST')).split('\n')) {
    const addr = /\baddr=(\S+)/.exec(row)?.[1];
    if (addr) found.set(addr, /\bname=(\S+)/.exec(row)?.[1] ?? 'the bench');
  }
  return found;
}

/** Commands a second by sender over `seconds`, `send` called once a second. */
async function window(seconds: number, send: (n: number) => Promise<unknown>): Promise<Map<string, Map<string, number>>> {
  const byAddress = await names();
  const lines: string[] = [];
  const monitor = await monitorLines(redis.url, (line) => lines.push(line));
  for (let n = 1; n <= seconds; n++) {
    await send(n);
    await sleep(1_000);
  }
  monitor.stop();
  const counts = new Map<string, Map<string, number>>();
  let caller = '';
  for (const line of lines) {
    const match = LINE.exec(line);
    if (!match) continue;
    if (match[1] !== 'lua') caller = (byAddress.get(match[1]!) ?? match[1]!).replace(/^bull:.*/, 'BullMQ workers');
    const sender = caller.replace(/^quantum-gates:/, '').replace(/^bullmq$/, 'BullMQ');
    const by = counts.get(sender) ?? new Map<string, number>();
    const name = match[2]!.toLowerCase();
    by.set(name, (by.get(name) ?? 0) + 1 / seconds);
    counts.set(sender, by);
  }
  return counts;
}

const idle = await window(COUNT, async () => undefined);
const kinds: [string, (n: number) => Promise<unknown>][] = [
  ['a proposal', (n) => r.xadd(streams.harvestProposal, '*', ...proposal(n))],
  ['a plan', (n) => r.xadd(streams.applyPlan, '*', ...planFields(2 * n))],
];
for (const [kind, send] of kinds) {
  const measured = await window(COUNT, send);
  const rows: [string, number, string][] = [];
  for (const sender of new Set([...measured.keys(), ...idle.keys()])) {
    if (sender === 'the bench') continue;
    const net = new Map<string, number>();
    for (const name of new Set([...(measured.get(sender)?.keys() ?? []), ...(idle.get(sender)?.keys() ?? [])])) {
      const n = (measured.get(sender)?.get(name) ?? 0) - (idle.get(sender)?.get(name) ?? 0);
      if (Math.abs(n) >= 0.05) net.set(name, n);
    }
    const total = [...net.values()].reduce((sum, n) => sum + n, 0);
    if (Math.abs(total) >= 0.05)
      rows.push([
        sender,
        total,
        [...net]
          .sort((a, b) => b[1] - a[1])
          .map(([name, n]) => `${name} ${n.toFixed(1)}`)
          .join(', '),
      ]);
  }
  rows.sort((a, b) => b[1] - a[1]);
  const all = rows.reduce((sum, [, n]) => sum + n, 0);
  console.log(`\n${kind}, one a second: ${all.toFixed(1)} commands (idle taken out)`);
  for (const [sender, total, by] of rows) console.log(`${total.toFixed(1).padStart(6)}  ${sender.padEnd(34)} ${by}`);
}
await runtime.stop();
await redis.stop();
