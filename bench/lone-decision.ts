/**
 * Where a lone decision's time goes (`npx tsx bench/lone-decision.ts`): every gate in one process
 * from the compiled bundle (made afresh in bench/results/lone-dist, or BENCH_BUNDLE_DIR), the
 * unit's Node flags, 20 held positions, a private redis-server. After 10 s at 30 proposals/s + 60
 * plans/s (the primed state of docs/performance.md), one message at a time, a proposal then a plan,
 * each alone (0.4-0.6 s apart, as upstream sends them), for LONE_SECONDS (default 40), while the held
 * symbols' figures are rewritten at upstream's periods (pipeline-rates.ts produceMarks). It prints:
 * - what the book lists (our view, P3.3's index, the governor's watch, the memory), to see it is the
 *   20 held (the priming's permits may leave symbols watched);
 * - each kind's latency, a producer's XADD to the decision seen by an XREAD BLOCK client;
 * - Redis's own time in those seconds, a decision (SLOWLOG at 0 µs: every command, a script's
 *   calls inside its EVALSHA; the idle's and the producers' included): what the round trips ask of redis-server;
 * - one proposal's and one plan's commands by MONITOR's clock, each put to the connection that sent it.
 * The rest of a decision's time is the gates' process and the round trips between it and Redis.
 * BENCH_PROFILE_DIR=dir: the gates process writes a CPU profile there (sampled every 100 µs); the run
 * prints when the lone decisions began, counted from the gates' start, to leave out the priming.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { REDIS_PROTOCOL } from '../runtime/host/redis.js';
import { keys, streams } from '../schemas/keys.js';
import { monitorLines } from '../test/support/monitor-lines.js';
import { freePort, startTestRedis } from '../test/support/redis-server.js';
import { decisionsSeen } from './decisions-seen.js';
import { planFields, seedPortfolio } from './governor-plans.js';
import { produceMarks } from './pipeline-rates.js';
import { untilReady } from '../test/support/serving.js';
import { GATES_NODE_FLAGS, percentile, profileFlags, root, spawnNode } from './processes.js';

const SECONDS = Number(process.env.LONE_SECONDS ?? 40);
const HELD = 20;
const bundleDir = resolve(process.env.BENCH_BUNDLE_DIR ?? resolve(root, 'bench/results/lone-dist'));
if (process.env.BENCH_BUNDLE_DIR === undefined)
  for (const script of ['scripts/bundle.mjs', 'scripts/write-build-info.mjs'])
    execFileSync(process.execPath, [script, bundleDir], { cwd: root, stdio: 'ignore' });

const redis = await startTestRedis();
await seedPortfolio(redis.client, HELD);
const port = await freePort();
// As bench/run.ts starts the gates (the units' Node flags).
const profiling = profileFlags(100);
const gatesStarted = performance.now();
const gates = spawnNode([...GATES_NODE_FLAGS, ...profiling, resolve(bundleDir, 'app', 'main.js')], {
  REDIS_URL: redis.url,
  PORT: String(port),
  MALLOC_ARENA_MAX: '2',
  LOG_LEVEL: 'warn',
  GOV_MAX_PLAN_AGE_SEC: '0',
});
const producer = new Redis(redis.url, { protocol: REDIS_PROTOCOL });
const observer = new Redis(redis.url, { protocol: REDIS_PROTOCOL });
const marks = new Redis(redis.url, { protocol: REDIS_PROTOCOL });

/** When each plan_id was sent, and whether its decision is measured. */
const sent = new Map<string, { at: number; kind: 'proposal' | 'plan' | undefined }>();
const latencies = { proposal: [] as number[], plan: [] as number[] };
let observing = true;
let observed: Promise<void> = Promise.resolve();
let stopMarks = () => undefined as void;

/** Each measured decision's latency, by its plan_id. */
function seen(_stream: string, planId: string, at: number): void {
  const one = sent.get(planId);
  if (one?.kind !== undefined) latencies[one.kind].push(at - one.at);
  sent.delete(planId);
}

let n = 0;
/** Sends one proposal or plan; `measured` puts its latency among the kind's. */
function send(kind: 'proposal' | 'plan', measured: boolean): Promise<unknown> {
  n += 1;
  const planId = kind === 'proposal' ? `lone-${n}` : `gov-${n}`;
  sent.set(planId, { at: performance.now(), kind: measured ? kind : undefined });
  return kind === 'proposal'
    ? producer.xadd(streams.harvestProposal, '*', 'plan_id', planId, 'symbol', `SYM${n % HELD}USDT`, 'action', 'FULL_CLOSE')
    : producer.xadd(streams.applyPlan, '*', ...planFields(n));
}

const gap = () => sleep(400 + Math.random() * 200);
const median = (values: readonly number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

/** Redis's own time by command over the SLOWLOG since it was reset (a script's calls apart from its EVALSHA's own). */
async function redisTime(): Promise<Map<string, number>> {
  const log = (await redis.client.call('SLOWLOG', 'GET', '1000000')) as [number, number, number, string[]][];
  const byCommand = new Map<string, number>();
  for (const [, , micros, args] of log) {
    const name = String(args[0]).toLowerCase();
    byCommand.set(name, (byCommand.get(name) ?? 0) + micros);
  }
  return byCommand;
}

/** One message's commands by MONITOR's clock, from its XADD, each with the connection that sent it. */
async function timeline(kind: 'proposal' | 'plan'): Promise<string[]> {
  const names = new Map<string, string>();
  for (const row of String(await redis.client.call('CLIENT', 'LIST')).split('\n')) {
    const addr = /\baddr=(\S+)/.exec(row)?.[1];
    if (addr) names.set(addr, /\bname=(\S+)/.exec(row)?.[1] ?? 'the bench');
  }
  const lines: string[] = [];
  const monitor = await monitorLines(redis.url, (line) => lines.push(line));
  await gap();
  await send(kind, false);
  await sleep(500);
  monitor.stop();
  const first = lines.findIndex((line) => line.includes(`"gov-${n}"`) || line.includes(`"lone-${n}"`));
  const out: string[] = [];
  let start = 0;
  for (const line of lines.slice(Math.max(first, 0))) {
    const match = /^\+?(\d+\.\d+) \[\d+ (\S+)\] (.*)$/.exec(line);
    if (!match) continue;
    const at = Number(match[1]);
    start ||= at;
    if ((at - start) * 1000 > 25) break;
    const who = match[2] === 'lua' ? '  (its script)' : (names.get(match[2]!) ?? match[2]!).replace(/^quantum-gates:/, '');
    // BullMQ's workers poll on their own; not the decision's.
    if (/^bull:|BZPOPMIN/i.test(who) || /"bzpopmin"/i.test(match[3]!)) continue;
    out.push(`${((at - start) * 1000).toFixed(2).padStart(7)} ms  ${who.slice(0, 30).padEnd(30)} ${match[3]!.slice(0, 90)}`);
  }
  return out;
}

let cleaning: Promise<void> | undefined;
/** Stops what the run started, once: at its end, and when it is interrupted (a left gates process would load the next run's machine). */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    observing = false;
    stopMarks();
    await observed;
    for (const client of [producer, marks, observer]) client.disconnect();
    await gates.stop();
    await redis.stop();
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void cleanUp().finally(() => process.exit(130)));
// A reader gone (`| head`): the rest is not printed, and the run stops as an interrupted one does.
process.stdout.on('error', () => void cleanUp().finally(() => process.exit(0)));

try {
  await untilReady(port).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${gates.output()}`);
  });
  observed = decisionsSeen(observer, { from: '$', blockMs: 200, running: () => observing, seen });
  stopMarks = produceMarks(marks, HELD, () => undefined);
  await sleep(300);
  // Primed: 10 s at 30 proposals/s + 60 plans/s, then 5 s quiet.
  const warmEnd = performance.now() + 10_000;
  while (performance.now() < warmEnd) {
    for (let k = 0; k < 9; k++) void send(k < 3 ? 'proposal' : 'plan', false);
    await sleep(100);
  }
  await sleep(5_000);
  await redis.client.call('CONFIG', 'SET', 'slowlog-log-slower-than', '0');
  await redis.client.call('CONFIG', 'SET', 'slowlog-max-len', '1000000');
  await redis.client.call('SLOWLOG', 'RESET');
  const loneBegan = (performance.now() - gatesStarted) / 1000;
  for (let i = 0; i < SECONDS; i++) {
    await send('proposal', true);
    await gap();
    await send('plan', true);
    await gap();
  }
  await sleep(500);
  const byCommand = await redisTime();
  await redis.client.call('CONFIG', 'SET', 'slowlog-log-slower-than', '-1');
  const decisions = latencies.proposal.length + latencies.plan.length;
  const total = [...byCommand.values()].reduce((sum, micros) => sum + micros, 0);
  console.log(`${SECONDS} proposals and ${SECONDS} plans, each alone, ${HELD} held (idle included in Redis's time):`);
  const [view, watched, remembered, p33] = await Promise.all([
    redis.client.scard(keys.activePositions),
    redis.client.zcard(keys.p33Watch),
    redis.client.hlen(keys.positionsHeld),
    redis.client.scard(keys.p33PositionIndex),
  ]);
  console.log(
    `  the book lists: our view ${view} symbols, P3.3's index ${p33}, the governor's watch ${watched}, the memory ${remembered} legs`,
  );
  if (profiling.length > 0)
    console.log(
      `  the lone decisions began ${loneBegan.toFixed(1)} s after the gates started (their profile: ${process.env.BENCH_PROFILE_DIR})`,
    );
  console.log(`  latency p50: proposals ${median(latencies.proposal).toFixed(2)} ms, plans ${median(latencies.plan).toFixed(2)} ms`);
  console.log(`  Redis's own time a decision: ${(total / decisions / 1000).toFixed(3)} ms; by command (µs a decision):`);
  console.log(
    `    ${[...byCommand]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([name, micros]) => `${name} ${(micros / decisions).toFixed(0)}`)
      .join(', ')}`,
  );
  for (const kind of ['proposal', 'plan'] as const) console.log(`\none ${kind}, by MONITOR's clock:\n${(await timeline(kind)).join('\n')}`);
} finally {
  await cleanUp();
}
