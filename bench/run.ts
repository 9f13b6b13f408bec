/**
 * `npm run bench`: heat-gate throughput against a hand-written ioredis loop, end-to-end latency
 * under paced load, governor throughput and the budget tick. Starts its own redis-server; prints
 * a table and writes JSON + an SVG chart to bench/results/ (git-ignored).
 *
 * BENCH_QUICK=1 shrinks every run (for a smoke check); BENCH_ROUNDS=n sets how many turns each
 * contender takes per backlog (default 3); BENCH_CPU_PROF=1 profiles the runtime (the heat gate's
 * drains and the governor's; `npx tsx bench/profile-breakdown.ts <file.cpuprofile>` sums one up);
 * BENCH_LATENCY_WARMUP_S=n sends at each latency rate for n seconds before measuring (default 10);
 * BENCH_ONLY=heat,latency,governor,jobs,budget picks sections (default all); BENCH_BUILDS=tsx,compiled
 * picks how the gates run (default both: through tsx from the sources, as `npm start`, and the
 * esbuild bundle `npm run build` makes, as the systemd units run it, bundled afresh into
 * bench/results/dist/ so the figures are of the code checked out).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { allHandlers } from '../handlers/index.js';
import { streams } from '../schemas/keys.js';
import { freePort, startTestRedis, type TestRedis } from '../test/support/redis-server.js';
import { renderChart } from './chart.js';
import { seedPortfolio, writeGovernorPlans } from './governor-plans.js';
import { root, spawnNode, spawnTs, type Spawned } from './processes.js';

const quick = process.env.BENCH_QUICK === '1';
const profile = process.env.BENCH_CPU_PROF === '1';
const resultsDir = resolve(root, 'bench', 'results');
const SECTIONS = ['heat', 'latency', 'governor', 'jobs', 'budget'] as const;
const only = new Set((process.env.BENCH_ONLY ?? SECTIONS.join(',')).split(',').map((s) => s.trim()));
for (const s of only)
  if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`BENCH_ONLY: unknown section ${s} (${SECTIONS.join(', ')})`);
type Build = 'tsx' | 'compiled';
const BUILDS = (process.env.BENCH_BUILDS ?? 'tsx,compiled').split(',').map((s) => s.trim()) as Build[];
for (const b of BUILDS) if (b !== 'tsx' && b !== 'compiled') throw new Error(`BENCH_BUILDS: unknown build ${String(b)} (tsx, compiled)`);
/** BENCH_RUNTIME_ENV="BATCH_SIZE=1000 …": settings given to every gates process (experiments). */
const benchRuntimeEnv: Record<string, string> = Object.fromEntries(
  (process.env.BENCH_RUNTIME_ENV ?? '')
    .split(' ')
    .filter((pair) => pair.includes('='))
    .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);
/** Where the compiled contender's bundle is made (git-ignored); `npm run build`'s esbuild step. */
const bundleDir = process.env.BENCH_BUNDLE_DIR ?? resolve(resultsDir, 'dist');
const profileDir = resolve(resultsDir, 'profiles');

/** The gates' process, from the sources or from the bundle; profiled when BENCH_CPU_PROF=1 and `profiled`. */
function spawnApp(build: Build, env: Record<string, string>, profiled = false, nodeFlags: readonly string[] = NODE_FLAGS): Spawned {
  const args = [...nodeFlags, ...(profile && profiled ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  return build === 'tsx' ? spawnTs('app/main.ts', env, args) : spawnNode([...args, resolve(bundleDir, 'app', 'main.js')], env);
}

/** `npm run build`'s bundle (scripts/bundle.mjs and its build-info), made from the checkout as it is. */
function bundle(): void {
  execFileSync(process.execPath, ['scripts/bundle.mjs', bundleDir], { cwd: root, stdio: 'ignore' });
  execFileSync(process.execPath, ['scripts/write-build-info.mjs', bundleDir], { cwd: root, stdio: 'ignore' });
}
const SYMBOLS = 20;
/** The flags `npm start` runs with (package.json), given to the runtime and the yardstick alike. */
const NODE_FLAGS = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? ['--max-semi-space-size=8', '--heap-growing-percent=150'];

/**
 * The node flags a per-gate unit runs its instance with: QG_NODE_FLAGS from the gate's env file
 * (deploy/env/gates-<gate>.env), else the template's default (deploy/systemd/quantum-gates@.service),
 * as systemd resolves them. BENCH_NODE_FLAGS, when set, wins (experiments). Named in the output.
 */
function unitNodeFlags(gate: string): { flags: string[]; from: string } {
  if (process.env.BENCH_NODE_FLAGS !== undefined) return { flags: NODE_FLAGS, from: 'BENCH_NODE_FLAGS' };
  const own = parseEnv(readFileSync(resolve(root, 'deploy', 'env', `gates-${gate}.env`), 'utf8')).QG_NODE_FLAGS;
  if (own !== undefined) return { flags: own.split(/\s+/).filter(Boolean), from: `deploy/env/gates-${gate}.env` };
  const unit = readFileSync(resolve(root, 'deploy', 'systemd', 'quantum-gates@.service'), 'utf8');
  const fallback = /^Environment="QG_NODE_FLAGS=([^"]*)"$/m.exec(unit)?.[1];
  if (fallback === undefined) throw new Error('deploy/systemd/quantum-gates@.service: no Environment="QG_NODE_FLAGS=…" default');
  return { flags: fallback.split(/\s+/).filter(Boolean), from: "the unit's default" };
}

interface Row {
  readonly name: string;
  readonly value: string;
  readonly note?: string;
}

async function produceProposals(redis: Redis, count: number, prefix: string): Promise<void> {
  for (let i = 0; i < count; i += 2000) {
    const pipeline = redis.pipeline();
    for (let j = i; j < Math.min(count, i + 2000); j++) {
      pipeline.xadd(
        streams.harvestProposal,
        '*',
        'plan_id',
        `${prefix}-${j}`,
        'symbol',
        `SYM${j % SYMBOLS}USDT`,
        'action',
        j % 3 ? 'FULL_CLOSE' : 'PARTIAL_50',
        'trace_id',
        `t-${j}`,
        'reason',
        'tp_hit',
      );
    }
    await pipeline.exec();
  }
}

async function waitForLength(redis: Redis, stream: string, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await redis.xlen(stream)) < count) {
    if (Date.now() > deadline) throw new Error(`${stream} did not reach ${count} entries in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Entries per second between the first and the last output, from their stream ids (Redis's clock). */
async function drainRate(redis: Redis, stream: string, count: number): Promise<number> {
  const [[first]] = (await redis.xrange(stream, '-', '+', 'COUNT', 1)) as [[string, string[]]];
  const [[last]] = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1)) as [[string, string[]]];
  const spanMs = Number(last.split('-')[0]) - Number(first.split('-')[0]);
  return ((count - 1) * 1000) / Math.max(spanMs, 1);
}

function runtimeEnv(redis: TestRedis, handlers: string, port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    PORT: String(port),
    HANDLERS: handlers,
    LOG_LEVEL: 'warn',
    STREAM_MAXLEN: '0',
    ...extra,
    ...benchRuntimeEnv,
  };
}

async function waitForGroup(redis: Redis, stream: string, group: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const groups = (await redis.call('XINFO', 'GROUPS', stream).catch(() => [])) as unknown[][];
    if (groups.some((g) => g.includes(group))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no consumer group ${group}`);
}

async function waitReady(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined);
    if (response?.status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('runtime did not become ready');
}

interface Drain {
  readonly perSecond: number;
  readonly peakRss: number;
  /** The process's CPU time (all its threads) per message drained. */
  readonly cpuMicrosPerMessage: number;
  /** redis-server's CPU time (INFO cpu, user + system) per message over the same stretch. */
  readonly redisCpuMicrosPerMessage: number;
  /** The Redis commands a message cost there (INFO commandstats), busiest first. */
  readonly commands?: string;
}

/** Taking turns, ROUNDS drains of each contender per backlog (BENCH_ROUNDS, default 3). */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3)));

function median(drains: readonly Drain[]): Drain {
  return [...drains].sort((a, b) => a.perSecond - b.perSecond)[Math.floor((drains.length - 1) / 2)]!;
}

/** redis-server's own CPU so far (user + system, all its threads), in milliseconds. */
async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

/** One contender: the yardstick, or the gates from the sources or the bundle. */
type Contender = 'hand-written' | Build;

async function heatThroughput(redis: TestRedis, backlog: number, kind: Contender): Promise<Drain> {
  await redis.client.flushall();
  await seedPortfolio(redis.client, SYMBOLS);
  await produceProposals(redis.client, backlog, kind);
  let proc: Spawned;
  let output: string;
  if (kind !== 'hand-written') {
    proc = spawnApp(kind, runtimeEnv(redis, 'position-snapshot,heat-gate', await freePort()), true);
    output = streams.harvestCalibrated;
  } else {
    // No EXPECT: a loop that exits on its last message races the CPU read after the drain (its
    // /proc entry gone, the figure came out negative); it is stopped below like the runtime.
    proc = spawnTs('bench/hand-written-loop.ts', { REDIS_URL: redis.url }, NODE_FLAGS);
    output = 'bench:handwritten:calibrated';
  }
  try {
    // CPU is counted from the first output on, so start-up (module loading, connecting) is left out.
    await waitForLength(redis.client, output, 1, 300_000);
    const [cpuBefore, redisBefore, statsBefore, doneBefore] = [
      proc.cpuMs(),
      await redisCpuMs(redis.client),
      await commandStats(redis.client),
      await redis.client.xlen(output),
    ];
    await waitForLength(redis.client, output, backlog, 300_000);
    const drained = Math.max(1, backlog - doneBefore);
    const commands = commandsPerMessage(statsBefore, await commandStats(redis.client), drained);
    const cpuMicrosPerMessage = ((proc.cpuMs() - cpuBefore) * 1000) / drained;
    const redisCpuMicrosPerMessage = (((await redisCpuMs(redis.client)) - redisBefore) * 1000) / drained;
    return {
      perSecond: await drainRate(redis.client, output, backlog),
      peakRss: proc.peakRss(),
      cpuMicrosPerMessage,
      redisCpuMicrosPerMessage,
      commands,
    };
  } finally {
    await proc.stop();
  }
}

/** A paced run's cost a message: the process's CPU, redis-server's, and its commands. */
function costNote(l: Awaited<ReturnType<typeof latencyAt>>): string {
  const cold =
    l.warmupSeconds > 0
      ? `cold (the first ${Math.min(5, l.warmupSeconds)} s after the start) p50 ${l.cold.p50.toFixed(2)} · p99 ${l.cold.p99.toFixed(2)} ms; `
      : '';
  return `${cold}CPU ${l.cpuMicrosPerMessage.toFixed(0)} µs/message, redis-server ${l.redisCpuMicrosPerMessage.toFixed(0)} µs/message, ${l.commands}`;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * BENCH_LATENCY_WARMUP_S (default 10; 0 with BENCH_QUICK): seconds each paced run sends at its
 * rate before the measured seconds. A process just started runs its per-batch code unoptimised for
 * several seconds at 1,000 msg/s (`--trace-opt`: TurboFan compiles the gate's functions until ~10 s
 * in, on the cores Redis and the gate need), and a gate runs for days; the first seconds after the
 * start (from 0.5 s on, the figure before this setting) are printed beside it as "cold".
 */
const LATENCY_WARMUP_S = Number(process.env.BENCH_LATENCY_WARMUP_S ?? (quick ? 0 : 10));

interface LatencyWindow {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly samples: number;
}

function latencyWindow(latencies: number[]): LatencyWindow {
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), samples: latencies.length };
}

async function latencyAt(redis: TestRedis, rate: number, seconds: number, kind: Contender = 'tsx') {
  await redis.client.flushall();
  await seedPortfolio(redis.client, SYMBOLS);
  const port = await freePort();
  const output = kind !== 'hand-written' ? streams.harvestCalibrated : 'bench:handwritten:calibrated';
  const proc =
    kind !== 'hand-written'
      ? spawnApp(kind, runtimeEnv(redis, 'position-snapshot,heat-gate', port))
      : // No EXPECT: its CPU is read after the last output (see heatThroughput); stopped below.
        spawnTs('bench/hand-written-loop.ts', { REDIS_URL: redis.url }, NODE_FLAGS);
  const producer = new Redis(redis.url);
  const observer = new Redis(redis.url);
  try {
    if (kind !== 'hand-written') await waitReady(port);
    else await waitForGroup(redis.client, streams.harvestProposal, 'handwritten');
    const sentAt = new Map<string, number>();
    /** Messages sent before the measured window (the cold window's first 0.5 s are left out as before). */
    const warm = Math.floor(rate * LATENCY_WARMUP_S);
    const coldFrom = Math.floor(rate * 0.5);
    const coldTo = Math.min(rate * seconds, warm);
    const measured: number[] = [];
    const cold: number[] = [];
    let observing = true;
    const total = warm + rate * seconds;
    const observe = (async () => {
      let last = '$';
      while (observing) {
        const reply = (await observer.xread('COUNT', 1000, 'BLOCK', 200, 'STREAMS', output, last)) as
          [string, [string, string[]][]][] | null;
        const now = performance.now();
        for (const [id, fields] of reply?.[0]?.[1] ?? []) {
          last = id;
          const planId = fields[fields.indexOf('plan_id') + 1]!;
          const sent = sentAt.get(planId);
          if (sent === undefined) continue;
          const n = Number(planId.split('-')[1]);
          if (n >= Math.max(warm, coldFrom)) measured.push(now - sent);
          if (n >= coldFrom && n < coldTo) cold.push(now - sent);
        }
      }
    })();
    // What a message costs at this rate over the measured window: the process's CPU,
    // redis-server's, and the commands it ran (idle re-reads and all, as production pays them).
    let before: [number, number, Map<string, { calls: number; usec: number }>] | undefined;
    const snapshot = async () => [proc.cpuMs(), await redisCpuMs(redis.client), await commandStats(redis.client)] as typeof before;
    if (warm === 0) before = await snapshot();
    const started = performance.now();
    let measuredFrom = started;
    let sent = 0;
    while (sent < total) {
      if (before === undefined && sent >= warm) {
        before = await snapshot();
        measuredFrom = performance.now();
      }
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      while (sent < due) {
        const planId = `lat-${sent}`;
        sentAt.set(planId, performance.now());
        void producer.xadd(streams.harvestProposal, '*', 'plan_id', planId, 'symbol', `SYM${sent % SYMBOLS}USDT`, 'action', 'FULL_CLOSE');
        sent++;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    const elapsed = (performance.now() - measuredFrom) / 1000;
    await waitForLength(redis.client, output, total, 60_000);
    const [cpuBefore, redisBefore, statsBefore] = before!;
    const count = total - warm;
    const commands = commandsPerMessage(statsBefore, await commandStats(redis.client), count);
    const cpuMicrosPerMessage = ((proc.cpuMs() - cpuBefore) * 1000) / count;
    const redisCpuMicrosPerMessage = (((await redisCpuMs(redis.client)) - redisBefore) * 1000) / count;
    await new Promise((r) => setTimeout(r, 300));
    observing = false;
    await observe;
    return {
      offered: rate,
      achieved: count / elapsed,
      ...latencyWindow(measured),
      warmupSeconds: LATENCY_WARMUP_S,
      cold: latencyWindow(cold),
      peakRss: proc.peakRss(),
      cpuMicrosPerMessage,
      redisCpuMicrosPerMessage,
      commands,
    };
  } finally {
    producer.disconnect();
    observer.disconnect();
    await proc.stop();
  }
}

/** INFO commandstats: calls and redis-server's µs per command name. */
/** Bytes redis-server has read from and written to its clients (INFO stats). */
async function netBytes(redis: Redis): Promise<{ input: number; output: number }> {
  const info = await redis.info('stats');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { input: field('total_net_input_bytes'), output: field('total_net_output_bytes') };
}

async function commandStats(redis: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm))
    stats.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
  return stats;
}

/**
 * The commands redis-server ran between two commandstats, per message: "get 4.0 (3 µs), …",
 * busiest first. Commands a script runs are counted again inside the script's own figure, and
 * commandstats times are wall-clock: on a busy machine a long script's include the time it
 * waited for a core. INFO cpu (redisCpuMs) is the CPU figure.
 */
function commandsPerMessage(
  before: Map<string, { calls: number; usec: number }>,
  after: Map<string, { calls: number; usec: number }>,
  messages: number,
): string {
  const rows = [...after].map(([name, a]) => {
    const b = before.get(name) ?? { calls: 0, usec: 0 };
    return { name, calls: (a.calls - b.calls) / messages, usec: (a.usec - b.usec) / messages };
  });
  const total = rows.reduce((sum, r) => sum + r.calls, 0);
  return `${total.toFixed(1)} commands/message: ${rows
    .filter((r) => r.calls >= 0.05 || r.usec >= 0.5)
    .sort((x, y) => y.usec - x.usec)
    .slice(0, Number(process.env.BENCH_COMMAND_ROWS ?? 8))
    .map((r) => `${r.name} ${r.calls.toFixed(1)} (${r.usec.toFixed(0)} µs)`)
    .join(', ')}`;
}

interface GovernorDrain extends Drain {
  readonly commands: string;
  /** redis-server's network bytes a plan, both ways (the bench's own reads included, a few hundred bytes). */
  readonly bytes: string;
  /** The node flags it ran with, and where they came from (unitNodeFlags). */
  readonly nodeFlags: string;
  /** Plans whose commit guard fired and that were decided again (quantum_gates_commit_conflicts_total). */
  readonly conflicts: number;
}

/** A counter's value for the governor, from the gates' /metrics. */
async function governorCounter(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{handler="governor"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function governorThroughput(redis: TestRedis, plans: number, build: Build): Promise<GovernorDrain | undefined> {
  if (!allHandlers.some((h) => h.name === 'governor')) return undefined;
  await redis.client.flushall();
  await seedPortfolio(redis.client, SYMBOLS);
  await writeGovernorPlans(redis.client, plans);
  const port = await freePort();
  // With the flags its production unit (quantum-gates@governor) gives it.
  const flags = unitNodeFlags('governor');
  const proc = spawnApp(build, runtimeEnv(redis, 'governor,governor-cooldown', port, { GOV_MAX_PLAN_AGE_SEC: '0' }), true, flags.flags);
  try {
    await waitForLength(redis.client, streams.governorEvents, 1, 300_000);
    const [cpuBefore, redisBefore, statsBefore, doneBefore, bytesBefore] = [
      proc.cpuMs(),
      await redisCpuMs(redis.client),
      await commandStats(redis.client),
      await redis.client.xlen(streams.governorEvents),
      await netBytes(redis.client),
    ];
    await waitForLength(redis.client, streams.governorEvents, plans, 300_000);
    const drained = Math.max(1, plans - doneBefore);
    const bytesAfter = await netBytes(redis.client);
    return {
      perSecond: await drainRate(redis.client, streams.governorEvents, plans),
      peakRss: proc.peakRss(),
      cpuMicrosPerMessage: ((proc.cpuMs() - cpuBefore) * 1000) / drained,
      redisCpuMicrosPerMessage: (((await redisCpuMs(redis.client)) - redisBefore) * 1000) / drained,
      commands: commandsPerMessage(statsBefore, await commandStats(redis.client), drained),
      bytes: `${Math.round((bytesAfter.input - bytesBefore.input) / drained)} B in, ${Math.round((bytesAfter.output - bytesBefore.output) / drained)} B out a plan`,
      nodeFlags: `${flags.flags.join(' ')} (${flags.from})`,
      conflicts: await governorCounter(port, 'quantum_gates_commit_conflicts_total'),
    };
  } finally {
    await proc.stop();
  }
}

/**
 * Due BullMQ jobs after a restart: `jobs` cooldown-expiry jobs whose delay has passed wait in the
 * governor's cooldown queue when the gates start; each emits one cooldown_expired (nothing
 * supersedes them). The rate is taken between the first and the last event, as for a backlog.
 */
async function jobsDrain(redis: TestRedis, jobs: number, build: Build): Promise<Drain | undefined> {
  if (!allHandlers.some((h) => h.name === 'governor-cooldown')) return undefined;
  await redis.client.flushall();
  const queue = new Queue('governor-cooldown', { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null } });
  try {
    const startedAt = Date.now() - 60_000;
    for (let i = 0; i < jobs; i += 1000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => {
          const symbol = `SYM${(i + k) % 200}USDT`;
          const at = startedAt + i + k;
          return {
            name: 'cooldown-expired',
            data: { symbol, plan_id: `job-${i + k}`, started_at: at, until: at + 1 },
            // Delayed as the governor schedules them, and due by the time the gates start.
            opts: {
              jobId: `cooldown-${symbol}-${at}`,
              delay: 1,
              attempts: 5,
              removeOnComplete: { count: 1000 },
              removeOnFail: { count: 1000 },
            },
          };
        }),
      );
    }
  } finally {
    await queue.close();
  }
  await new Promise((r) => setTimeout(r, 10));
  const proc = spawnApp(build, runtimeEnv(redis, 'governor-cooldown', await freePort()));
  try {
    await waitForLength(redis.client, streams.governorEvents, 1, 120_000);
    const [cpuBefore, redisBefore, doneBefore] = [
      proc.cpuMs(),
      await redisCpuMs(redis.client),
      await redis.client.xlen(streams.governorEvents),
    ];
    await waitForLength(redis.client, streams.governorEvents, jobs, 300_000);
    const drained = Math.max(1, jobs - doneBefore);
    return {
      perSecond: await drainRate(redis.client, streams.governorEvents, jobs),
      peakRss: proc.peakRss(),
      cpuMicrosPerMessage: ((proc.cpuMs() - cpuBefore) * 1000) / drained,
      redisCpuMicrosPerMessage: (((await redisCpuMs(redis.client)) - redisBefore) * 1000) / drained,
    };
  } finally {
    await proc.stop();
  }
}

async function budgetTick(redis: TestRedis, symbols: number): Promise<number | undefined> {
  if (!allHandlers.some((h) => h.name === 'risk-budget')) return undefined;
  await redis.client.flushall();
  await seedPortfolio(redis.client, symbols);
  const port = await freePort();
  const proc = spawnTs('app/main.ts', runtimeEnv(redis, 'risk-budget', port, { BUDGET_COMPUTE_INTERVAL_SEC: '1' }), NODE_FLAGS);
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ids = await redis.client.zrevrange('bull:risk-budget:completed', 0, 0);
      if (ids[0]) {
        const job = await redis.client.hmget(`bull:risk-budget:${ids[0]}`, 'processedOn', 'finishedOn');
        if (job[0] && job[1]) return Number(job[1]) - Number(job[0]);
      }
      if (Date.now() > deadline) throw new Error('no budget tick completed');
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await proc.stop();
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const rate = (perSecond: number) => Math.round(perSecond).toLocaleString('en-US');

async function main(): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  // BENCH_BUNDLE_DIR: a bundle made elsewhere (another commit's, to compare), run as it is.
  if (BUILDS.includes('compiled') && process.env.BENCH_BUNDLE_DIR === undefined) bundle();
  const redis = await startTestRedis();
  const rows: Row[] = [];
  const results: Record<string, unknown> = {
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    startedAt: new Date().toISOString(),
    quick,
    builds: BUILDS,
  };
  const throughput: { label: string; perSecond: number }[] = [];
  const latency: Awaited<ReturnType<typeof latencyAt>>[] = [];
  try {
    if (only.has('heat')) {
      const backlogs = process.env.BENCH_BACKLOGS ? process.env.BENCH_BACKLOGS.split(',').map(Number) : quick ? [5_000] : [20_000, 100_000];
      for (const backlog of backlogs) {
        // This VM's speed drifts by 10-20% over seconds (other tenants): the contenders take
        // turns, ROUNDS times, and each is represented by its median drain.
        const contenders: Contender[] = ['hand-written', ...BUILDS];
        const drains = new Map<Contender, Drain[]>(contenders.map((c) => [c, []]));
        for (let round = 0; round < ROUNDS; round++)
          for (const c of contenders) drains.get(c)!.push(await heatThroughput(redis, backlog, c));
        const hands = drains.get('hand-written')!;
        const hand = median(hands);
        const n = backlog.toLocaleString('en-US');
        const spread = (ds: Drain[]) =>
          `${ROUNDS} round${ROUNDS === 1 ? '' : 's'}: ${ds.map((d) => rate(d.perSecond)).join(', ')}; CPU ${ds.map((d) => d.cpuMicrosPerMessage.toFixed(0)).join(', ')} µs/message, redis-server ${ds.map((d) => d.redisCpuMicrosPerMessage.toFixed(0)).join(', ')} µs/message`;
        rows.push({
          name: `hand-written ioredis loop, ${n} backlog`,
          value: `${rate(hand.perSecond)} proposals/s`,
          note: `median of ${spread(hands)}`,
        });
        throughput.push({ label: `loop ${backlog / 1000}k`, perSecond: hand.perSecond });
        const heat: Record<string, unknown> = { handWritten: hand, rounds: { handWritten: hands } };
        for (const build of BUILDS) {
          const runs = drains.get(build)!;
          const rt = median(runs);
          const ratios = runs.map((d, i) => d.perSecond / hands[i]!.perSecond);
          const ratio = rt.perSecond / hand.perSecond;
          const peakRss = Math.max(...runs.map((d) => d.peakRss));
          throughput.push({ label: `${build} ${backlog / 1000}k`, perSecond: rt.perSecond });
          rows.push({
            name: `heat gate (${build}), ${n} backlog`,
            value: `${rate(rt.perSecond)} proposals/s`,
            note: `median of ${spread(runs)}; peak RSS ${mib(peakRss)}`,
          });
          rows.push({
            name: `heat gate (${build}) ÷ hand-written loop, ${n}`,
            value: `${ratio.toFixed(2)}×`,
            note: `floor ≥ 1.2×; round by round ${ratios.map((r) => r.toFixed(2)).join(', ')}`,
          });
          rows.push({
            name: `peak RSS (${build}) draining ${n}`,
            value: mib(peakRss),
            note: backlog >= 100_000 ? 'floor ≤ 150 MiB' : undefined,
          });
          heat[build] = { median: rt, ratio, peakRss, rounds: runs };
        }
        // What each contender's messages cost redis-server, the second core's share of the work.
        for (const c of contenders) {
          const d = median(drains.get(c)!);
          rows.push({
            name: `redis-server per message (${c}), ${n}`,
            value: `${d.redisCpuMicrosPerMessage.toFixed(1)} µs`,
            note: d.commands,
          });
        }
        results[`heat_${backlog}`] = heat;
      }
    }

    if (only.has('latency')) {
      const loads = process.env.BENCH_RATES ? process.env.BENCH_RATES.split(',').map(Number) : quick ? [1000] : [200, 1000, 2000, 5000];
      for (const build of BUILDS)
        for (const offered of loads) {
          // Every rate through tsx; the compiled build at the rate the targets name.
          if (build !== BUILDS[0] && offered !== 1000) continue;
          const l = await latencyAt(redis, offered, quick ? 2 : 5, build);
          if (build === BUILDS[0]) latency.push(l);
          rows.push({
            name: `latency (${build}) at ${offered} msg/s offered`,
            value: `p50 ${l.p50.toFixed(2)} ms · p90 ${l.p90.toFixed(2)} ms · p99 ${l.p99.toFixed(2)} ms`,
            note: `${offered === 1000 ? 'floor: p99 within 2 ms of the hand-written loop (below); ' : ''}${Math.round(l.achieved)} msg/s sent, ${l.samples} samples after ${l.warmupSeconds} s at that rate, peak RSS ${mib(l.peakRss)}; ${costNote(l)}`,
          });
          results[`latency_${build}_${offered}`] = l;
        }
      const floor = await latencyAt(redis, 1000, quick ? 2 : 5, 'hand-written');
      rows.push({
        name: 'hand-written loop latency at 1000 msg/s',
        value: `p50 ${floor.p50.toFixed(2)} ms · p90 ${floor.p90.toFixed(2)} ms · p99 ${floor.p99.toFixed(2)} ms`,
        note: `the floor: same work, no guarantees; ${floor.samples} samples after ${floor.warmupSeconds} s at that rate; ${costNote(floor)}`,
      });
      results.latencyHandWritten1000 = floor;
    }

    if (only.has('governor'))
      for (const build of BUILDS) {
        const governor = await governorThroughput(redis, quick ? 2_000 : 20_000, build);
        if (governor === undefined) continue;
        rows.push({
          name: `governor (${build}), plans/s from a backlog`,
          value: `${rate(governor.perSecond)} plans/s`,
          note: `floor ≥ 4,000; node ${governor.nodeFlags}; CPU ${governor.cpuMicrosPerMessage.toFixed(0)} µs/plan, ${governor.conflicts} decided again after a fired guard, redis-server ${governor.redisCpuMicrosPerMessage.toFixed(0)} µs/plan, peak RSS ${mib(governor.peakRss)}, ${governor.bytes}, ${governor.commands}`,
        });
        results[`governor_${build}`] = governor;
      }

    if (only.has('jobs'))
      for (const build of BUILDS) {
        const count = quick ? 1_000 : 6_218;
        const jobs = await jobsDrain(redis, count, build);
        if (jobs === undefined) continue;
        rows.push({
          name: `due BullMQ jobs (${build}), ${count.toLocaleString('en-US')} after a restart`,
          value: `${rate(jobs.perSecond)} jobs/s`,
          note: `floor ≥ 2,000; CPU ${jobs.cpuMicrosPerMessage.toFixed(0)} µs/job, redis-server ${jobs.redisCpuMicrosPerMessage.toFixed(0)} µs/job`,
        });
        results[`jobs_${build}`] = jobs;
      }

    if (only.has('budget')) {
      const tick = await budgetTick(redis, quick ? 100 : 1_000);
      if (tick !== undefined) rows.push({ name: `risk-budget tick over ${quick ? 100 : 1000} active symbols`, value: `${tick} ms` });
      results.budgetTickMs = tick ?? null;
    }

    const caption = `${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'}), Node ${process.version}, redis-server private on loopback, ${new Date().toISOString().slice(0, 10)}`;
    if (throughput.length > 0 && latency.length > 0)
      writeFileSync(resolve(resultsDir, 'chart.svg'), renderChart({ throughput, latency, caption }));
    writeFileSync(resolve(resultsDir, 'latest.json'), JSON.stringify({ ...results, rows }, null, 2));
    writeFileSync(resolve(resultsDir, `bench-${Date.now()}.json`), JSON.stringify({ ...results, rows }, null, 2));

    const width = Math.max(...rows.map((r) => r.name.length));
    console.log(`\nquantum-gates benchmark — ${caption}\n`);
    for (const row of rows) console.log(`${row.name.padEnd(width)}  ${row.value}${row.note ? `  (${row.note})` : ''}`);
    console.log(
      `\nresults: bench/results/latest.json${throughput.length > 0 && latency.length > 0 ? ', chart: bench/results/chart.svg' : ''}`,
    );
  } finally {
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
