/**
 * `npm run bench`: the gates against the performance the product owes (docs/performance.md,
 * "Requirements"), every gate in one process as `npm start` runs them, from the esbuild bundle
 * `npm run build` makes (bundled afresh into bench/results/dist/ from the checkout). Starts its own
 * redis-server; prints each figure beside its requirement and writes bench/results/latest.json.
 *
 * BENCH_ONLY=idle,latency,heat,governor,jobs,universe,held,hour,rss,pipeline-rates,held-slope picks sections (default all);
 * BENCH_QUICK=1 shrinks every run (a smoke check, not figures). BENCH_GATE_<NAME>=value sets <NAME>
 * for the gates; BENCH_PROFILE_DIR=dir has the gates process write a CPU profile there.
 * pipeline-rates also runs the Python originals (bench/pipeline-rates.ts): BENCH_UPSTREAM_GIT names
 * the upstream mirror's git directory, BENCH_PYTHON the interpreter (Debian's python3 with
 * python3-redis and python3-prometheus-client).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { keys, streams } from '../schemas/keys.js';
import { REDIS_PROTOCOL } from '../runtime/host/redis.js';
import { freePort, startTestRedis, type TestRedis } from '../test/support/redis-server.js';
import { checkCaps, type DecisionFields } from './caps-check.js';
import { decisionsSeen } from './decisions-seen.js';
import { bookNotional, planFields, seedPortfolio, writeGovernorPlans } from './governor-plans.js';
import { untilIndexed, writeFlatUniverse } from './universe.js';
import { GATES_NODE_FLAGS, percentile, profileFlags, root, spawnNode, spawnTs, type Spawned } from './processes.js';
import { untilReady } from '../test/support/serving.js';
import {
  atPipelineRates,
  floorDeciders,
  pythonDeciders,
  type Deciders,
  type PipelineRatesResult,
  type RatesResult,
} from './pipeline-rates.js';

const quick = process.env.BENCH_QUICK === '1';
const SECTIONS = [
  'idle',
  'latency',
  'heat',
  'governor',
  'jobs',
  'universe',
  'held',
  'hour',
  'rss',
  'pipeline-rates',
  'held-slope',
] as const;
const only = new Set((process.env.BENCH_ONLY ?? SECTIONS.join(',')).split(',').map((s) => s.trim()));
for (const s of only)
  if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`BENCH_ONLY: unknown section ${s} (${SECTIONS.join(', ')})`);
const resultsDir = resolve(root, 'bench', 'results');
/** BENCH_BUNDLE_DIR: another commit's bundle (`node scripts/bundle.mjs <dir>` in its worktree), to compare two in turns. */
const givenBundle = process.env.BENCH_BUNDLE_DIR;
const bundleDir = givenBundle === undefined ? resolve(resultsDir, 'dist') : resolve(givenBundle);
const SYMBOLS = 20;

/** Every gate in one process, from the bundle; `extraEnv` over the bench's own settings. */
async function startGates(redis: TestRedis, extraEnv: Record<string, string> = {}): Promise<{ proc: Spawned; port: number }> {
  const port = await freePort();
  const env = {
    REDIS_URL: redis.url,
    PORT: String(port),
    // As `npm start` and the units run it.
    MALLOC_ARENA_MAX: '2',
    LOG_LEVEL: 'warn',
    // The bench's plans are written before the gates start; the governor would refuse them as stale.
    GOV_MAX_PLAN_AGE_SEC: '0',
    ...extraEnv,
    // BENCH_GATE_<NAME>=value: <NAME> for the gates, to see what a setting does to a row.
    ...Object.fromEntries(
      Object.entries(process.env).flatMap(([name, value]) =>
        name.startsWith('BENCH_GATE_') && value !== undefined ? [[name.slice('BENCH_GATE_'.length), value]] : [],
      ),
    ),
  };
  return { proc: spawnNode([...GATES_NODE_FLAGS, ...profileFlags(), resolve(bundleDir, 'app', 'main.js')], env), port };
}

async function waitForLength(redis: Redis, stream: string, count: number, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await redis.xlen(stream)) < count) {
    if (Date.now() > deadline) throw new Error(`${stream} did not reach ${count} entries in ${timeoutMs} ms`);
    await sleep(20);
  }
}

/**
 * Waits until every group reading the position snapshot stream has read its last entry and
 * acknowledged it: the held positions applied, the book in its steady state before a measurement.
 */
async function untilSnapshotsApplied(redis: Redis, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const [[lastId]] = (await redis.xrevrange(streams.positionSnapshot, '+', '-', 'COUNT', 1)) as [[string, string[]]];
  for (;;) {
    const groups = ((await redis.xinfo('GROUPS', streams.positionSnapshot)) as unknown[][]).map((flat) => {
      const fields = new Map<string, unknown>();
      for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1]);
      return fields;
    });
    if (groups.length > 0 && groups.every((g) => g.get('last-delivered-id') === lastId && Number(g.get('pending')) === 0)) return;
    if (Date.now() > deadline) throw new Error(`the position snapshots were not applied in ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Entries per second between the first and the last entry of `stream`, from their ids (Redis's clock). */
async function drainRate(redis: Redis, stream: string, count: number): Promise<number> {
  const [[first]] = (await redis.xrange(stream, '-', '+', 'COUNT', 1)) as [[string, string[]]];
  const [[last]] = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1)) as [[string, string[]]];
  const spanMs = Number(last.split('-')[0]) - Number(first.split('-')[0]);
  return ((count - 1) * 1000) / Math.max(spanMs, 1);
}

/**
 * Decisions the gates' tape could not keep (quantum_gates_tape_write_failures_total, every gate),
 * read once the last commit's records have had time to be written: a drain that keeps its pace by
 * leaving decisions off the tape has not kept it.
 */
async function notTaped(port: number): Promise<number> {
  await sleep(500);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let count = 0;
  for (const match of text.matchAll(/^quantum_gates_tape_write_failures_total\{[^}]*\} (\S+)$/gm)) count += Number(match[1]);
  return count;
}

const tapedNote = (notTapedCount: number) => (notTapedCount === 0 ? 'every decision taped' : `${notTapedCount} decisions NOT TAPED`);

/** redis-server's CPU so far (ms, user + system) and its calls per command (INFO commandstats), in one INFO call. */
async function redisCounters(redis: Redis): Promise<{ cpuMs: number; calls: Map<string, number> }> {
  const info = (await redis.call('INFO', 'cpu', 'commandstats')) as string;
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return { cpuMs: (field('used_cpu_user') + field('used_cpu_sys')) * 1000, calls };
}

/** Calls per command between two readings, the reading's own INFO left out. */
function callsBetween(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const calls = new Map<string, number>();
  for (const [name, n] of after) {
    const d = n - (before.get(name) ?? 0) - (name === 'info' ? 1 : 0);
    if (d > 0) calls.set(name, d);
  }
  return calls;
}

const perUnit = (calls: Map<string, number>, per: number, unit: string): string =>
  [...calls]
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${(n / per).toFixed(n / per < 10 ? 2 : 0)}`)
    .join(', ') + ` ${unit}`;

/** The gates with no traffic: their CPU (% of a core) and Redis commands a second, by command, and each connection's last command. */
async function idle(redis: TestRedis) {
  await redis.client.flushall();
  await seedPortfolio(redis.client, SYMBOLS);
  const { proc, port } = await startGates(redis);
  try {
    await untilReady(port);
    // Past the start-up and the first of every periodic job (the budget tick, the heat refresh).
    await sleep(quick ? 2_000 : 15_000);
    const seconds = quick ? 5 : 60;
    const [cpuBefore, before, started] = [proc.cpuMs(), await redisCounters(redis.client), performance.now()];
    await sleep(seconds * 1000);
    const [cpuAfter, after, wall] = [proc.cpuMs(), await redisCounters(redis.client), (performance.now() - started) / 1000];
    const calls = callsBetween(before.calls, after.calls);
    const total = [...calls.values()].reduce((sum, n) => sum + n, 0);
    const clients = ((await redis.client.call('CLIENT', 'LIST')) as string)
      .split('\n')
      .map((line) => Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string])))
      .filter((c) => c.name !== undefined && c.name !== '')
      .map((c) => `${c.name}: ${c.cmd}`);
    return {
      seconds: wall,
      cpuPercent: ((cpuAfter - cpuBefore) / 1000 / wall) * 100,
      redisCpuPercent: ((after.cpuMs - before.cpuMs) / 1000 / wall) * 100,
      commandsPerSecond: total / wall,
      byCommand: perUnit(calls, wall, '/s'),
      clients,
      peakRss: proc.peakRss(),
    };
  } finally {
    await proc.stop();
  }
}

interface LatencyOptions {
  readonly proposalsPerSecond: number;
  readonly plansPerSecond: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Positions held (seedPortfolio); the proposals name them in turn. Default SYMBOLS. */
  readonly held?: number;
  /** Flat P3.3 symbols (bench/universe.ts) written before the gates start; measured once the position index lists them. */
  readonly universe?: number;
}

/**
 * Decision latency at `proposalsPerSecond` proposals and `plansPerSecond` plans together: a
 * producer's XADD to the decision seen by an XREAD BLOCK client (the heat gate's calibrated entry,
 * the governor's permit or block), after `warmupSeconds` at the same rates.
 */
async function latency(redis: TestRedis, options: LatencyOptions) {
  const { proposalsPerSecond, plansPerSecond, seconds, warmupSeconds, held = SYMBOLS, universe = 0 } = options;
  await redis.client.flushall();
  await seedPortfolio(redis.client, held);
  const flat = universe > 0 ? await writeFlatUniverse(redis.client, universe, Math.floor(Date.now() / 1000)) : [];
  const { proc, port } = await startGates(redis);
  const producer = new Redis(redis.url, { protocol: REDIS_PROTOCOL });
  const observer = new Redis(redis.url, { protocol: REDIS_PROTOCOL });
  try {
    await untilReady(port);
    // The book as the pipeline's keys make it: every held position applied and every flat symbol indexed before any message is sent.
    await untilSnapshotsApplied(redis.client);
    if (flat.length > 0) await untilIndexed(redis.client, flat);
    const sentAt = new Map<string, { at: number; measured: boolean }>();
    const proposals: number[] = [];
    const plans: number[] = [];
    let observing = true;
    // From the start, not '$': '$' is read when the first XREAD arrives, and a decision made before then was never seen.
    const observe = decisionsSeen(observer, {
      from: '0-0',
      blockMs: 200,
      running: () => observing,
      seen: (stream, planId, at) => {
        const sent = sentAt.get(planId);
        if (sent === undefined) return;
        sentAt.delete(planId);
        if (sent.measured) (stream === streams.governorEvents ? plans : proposals).push(at - sent.at);
      },
    });
    const started = performance.now();
    /** When the measured window opens: after the warm-up. */
    let measureFrom = Infinity;
    let [sentProposals, sentPlans] = [0, 0];
    while (performance.now() < measureFrom + seconds * 1000) {
      const elapsed = (performance.now() - started) / 1000;
      if (measureFrom === Infinity && elapsed >= warmupSeconds) measureFrom = performance.now();
      const measured = performance.now() >= measureFrom;
      for (; sentProposals < Math.floor(elapsed * proposalsPerSecond); sentProposals++) {
        const planId = `lat-${sentProposals}`;
        sentAt.set(planId, { at: performance.now(), measured });
        void producer.xadd(
          streams.harvestProposal,
          '*',
          'plan_id',
          planId,
          'symbol',
          `SYM${sentProposals % held}USDT`,
          'action',
          'FULL_CLOSE',
        );
      }
      for (; sentPlans < Math.floor(elapsed * plansPerSecond); sentPlans++) {
        sentAt.set(`gov-${sentPlans}`, { at: performance.now(), measured });
        void producer.xadd(streams.applyPlan, '*', ...planFields(sentPlans));
      }
      await sleep(1);
    }
    // Every decision seen, or 15 s.
    for (let i = 0; i < 150 && sentAt.size > 0; i++) await sleep(100);
    observing = false;
    await observe;
    const undecided = [...sentAt.keys()];
    const both = [...proposals, ...plans].sort((a, b) => a - b);
    proposals.sort((a, b) => a - b);
    plans.sort((a, b) => a - b);
    return {
      held,
      universe,
      samples: both.length,
      p50: percentile(both, 50),
      p99: percentile(both, 99),
      max: both.at(-1) ?? NaN,
      proposalsP99: percentile(proposals, 99),
      plansP99: percentile(plans, 99),
      undecided,
      peakRss: proc.peakRss(),
    };
  } finally {
    producer.disconnect();
    observer.disconnect();
    await proc.stop();
  }
}

type LatencyResult = Awaited<ReturnType<typeof latency>>;

/** The latency row's figures after its p99: p50, max, each stream's p99, the count, and what was left undecided. */
const latencyNote = (r: LatencyResult): string =>
  `${r.undecided.length === 0 ? '' : `UNDECIDED after 15 s: ${r.undecided.join(' ')}; `}p50 ${r.p50.toFixed(2)} ms, max ${r.max.toFixed(1)} ms, proposals' p99 ${r.proposalsP99.toFixed(2)} ms, plans' p99 ${r.plansP99.toFixed(2)} ms, ${r.samples} decisions`;

/** Drains `count` entries already written (`fill`) by the gates (or `start`'s process) until `output` holds `count`; CPU from the first output on. */
async function drain(
  redis: TestRedis,
  fill: () => Promise<void>,
  output: string,
  count: number,
  start: () => Promise<{ proc: Spawned; port?: number }> = () => startGates(redis),
) {
  await redis.client.flushall();
  await seedPortfolio(redis.client, SYMBOLS);
  await fill();
  const { proc, port } = await start();
  try {
    await waitForLength(redis.client, output, 1);
    const [cpuBefore, doneBefore, redisBefore] = [proc.cpuMs(), await redis.client.xlen(output), await redisCounters(redis.client)];
    await waitForLength(redis.client, output, count);
    const redisAfter = await redisCounters(redis.client);
    const decided = Math.max(1, count - doneBefore);
    return {
      perSecond: await drainRate(redis.client, output, count),
      cpuMicrosPerMessage: ((proc.cpuMs() - cpuBefore) * 1000) / decided,
      redisMicrosPerMessage: ((redisAfter.cpuMs - redisBefore.cpuMs) * 1000) / decided,
      redisCalls: perUnit(callsBetween(redisBefore.calls, redisAfter.calls), decided, 'a message'),
      notTaped: port === undefined ? 0 : await notTaped(port),
      peakRss: proc.peakRss(),
    };
  } finally {
    await proc.stop();
  }
}

async function writeProposals(redis: Redis, count: number): Promise<void> {
  for (let i = 0; i < count; i += 2000) {
    const pipeline = redis.pipeline();
    for (let n = i; n < Math.min(count, i + 2000); n++)
      pipeline.xadd(
        streams.harvestProposal,
        '*',
        'plan_id',
        `p-${n}`,
        'symbol',
        `SYM${n % SYMBOLS}USDT`,
        'action',
        n % 3 ? 'FULL_CLOSE' : 'PARTIAL_50',
        'trace_id',
        `t-${n}`,
        'reason',
        'tp_hit',
      );
    await pipeline.exec();
  }
}

/** An open of the bench's plans: qty 1 at 10 (planFields), priced at the market state's 10. */
const TRADE_USD = 10;
/** Opens the total cap leaves room for in the `hour` section: the cap is the held book's notional plus this many trades. */
const HOUR_OPENS_ALLOWED = 40;

/** Governor decision events (permit, block) after `from`, read in pages; the last id read. */
async function decisionsAfter(redis: Redis, from: string, into: (DecisionFields & { id: string })[]): Promise<string> {
  let last = from;
  for (;;) {
    const page = (await redis.xrange(streams.governorEvents, `(${last}`, '+', 'COUNT', 5000)) as [string, string[]][];
    if (page.length === 0) return last;
    for (const [id, fields] of page) {
      last = id;
      const event: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) event[fields[i]!] = fields[i + 1]!;
      if (event.event === 'permit' || event.event === 'block') into.push({ ...event, id });
    }
  }
}

const msOf = (id: string) => Number(id.split('-')[0]);

/**
 * A tenth of an hour at 100x the defaults (or `proposals` and `plans` of it), written as a backlog
 * and drained by every gate in one process: the rates, and whether the governor's total-notional
 * cap held exactly (bench/caps-check.ts). The opens face a cap of the held book plus
 * HOUR_OPENS_ALLOWED trades (the position cap lifted, so the total is the cap that binds, and
 * reservations outliving the drain), each symbol priced by the market state.
 */
async function hourDrain(redis: TestRedis, proposals: number, plans: number) {
  const r = redis.client;
  await r.flushall();
  await seedPortfolio(r, SYMBOLS);
  const pricing = r.pipeline();
  for (let i = 0; i < 200; i++) pricing.hset(keys.marketState(`SYM${i}USDT`), 'mark_price', String(TRADE_USD));
  await pricing.exec();
  await writeProposals(r, proposals);
  await writeGovernorPlans(r, plans);
  const capUsd = bookNotional(SYMBOLS) + HOUR_OPENS_ALLOWED * TRADE_USD;
  const { proc, port } = await startGates(redis, {
    GOV_MAX_TOTAL_NOTIONAL_USDT: String(capUsd),
    GOV_MAX_OPEN_POSITIONS: '1000',
    GOV_RESERVATION_TIMEOUT_SEC: '3600',
  });
  try {
    const decisions: (DecisionFields & { id: string })[] = [];
    let last = '0-0';
    const deadline = Date.now() + 900_000;
    while (decisions.length < plans || (await r.xlen(streams.harvestCalibrated)) < proposals) {
      if (Date.now() > deadline) throw new Error(`hour: ${decisions.length} of ${plans} plans decided after 15 min`);
      await sleep(500);
      last = await decisionsAfter(r, last, decisions);
    }
    const [[firstOut]] = (await r.xrange(streams.harvestCalibrated, '-', '+', 'COUNT', 1)) as [[string, string[]]];
    const [[lastOut]] = (await r.xrevrange(streams.harvestCalibrated, '+', '-', 'COUNT', 1)) as [[string, string[]]];
    const [firstDecision, lastDecision] = [decisions[0]!.id, decisions.at(-1)!.id];
    const spanMs = Math.max(msOf(lastOut), msOf(lastDecision)) - Math.min(msOf(firstOut), msOf(firstDecision));
    const reserved = (await r.zrange(keys.governorReservations, 0, '-1')).reduce(
      (sum, member) => sum + (JSON.parse(member) as { notional: number }).notional,
      0,
    );
    const pending = ((await r.xpending(streams.applyPlan, 'governor')) as [number, ...unknown[]])[0];
    const deadLetters = await r.xlen(streams.deadLetter);
    const caps = checkCaps(decisions, plans, capUsd, TRADE_USD, reserved);
    return {
      proposals,
      plans,
      capUsd,
      seconds: spanMs / 1000,
      perSecond: ((proposals + plans) * 1000) / Math.max(spanMs, 1),
      plansPerSecond: ((plans - 1) * 1000) / Math.max(msOf(lastDecision) - msOf(firstDecision), 1),
      proposalsPerSecond: await drainRate(r, streams.harvestCalibrated, proposals),
      caps,
      pending,
      deadLetters,
      exact: caps.exact && pending === 0 && deadLetters === 0,
      notTaped: await notTaped(port),
      peakRss: proc.peakRss(),
    };
  } finally {
    await proc.stop();
  }
}

/** `jobs` cooldown-expiry jobs, all due when the gates start, as after a restart; each emits one cooldown_expired. */
async function writeDueJobs(redis: TestRedis, jobs: number): Promise<void> {
  const queue = new Queue('governor-cooldown', {
    connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null, protocol: REDIS_PROTOCOL },
  });
  try {
    const startedAt = Date.now() - 60_000;
    for (let i = 0; i < jobs; i += 1000)
      await queue.addBulk(
        Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => {
          const symbol = `SYM${(i + k) % 200}USDT`;
          const at = startedAt + i + k;
          return {
            name: 'cooldown-expired',
            data: { symbol, plan_id: `job-${i + k}`, started_at: at, until: at + 1 },
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
  } finally {
    await queue.close();
  }
  await sleep(10);
}

/** The commands a decision by name, largest first, as `name n`. */
const commandMap = (byCommand: readonly (readonly [string, number])[]): string =>
  byCommand
    .filter(([, n]) => Math.abs(n) >= 0.05)
    .map(([name, n]) => `${name} ${n.toFixed(n < 10 ? 2 : 0)}`)
    .join(', ');

/**
 * `run` with keyspace events for string commands on too (the Python governor's decision is its
 * SETEX of a permit or block key, seen as a keyevent), then the test server's own setting again.
 */
async function withKeyEvents<T>(redis: Redis, run: () => Promise<T>): Promise<T> {
  const [, before] = (await redis.config('GET', 'notify-keyspace-events')) as [string, string];
  await redis.config('SET', 'notify-keyspace-events', `${before}E$`);
  try {
    return await run();
  } finally {
    await redis.config('SET', 'notify-keyspace-events', before);
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const rate = (perSecond: number) => Math.round(perSecond).toLocaleString('en-US');

interface Row {
  readonly name: string;
  readonly value: string;
  /** The requirement, and whether the figure meets it; none for a figure given as information. */
  readonly requirement?: { readonly text: string; readonly met: boolean };
  readonly note?: string;
}

async function main(): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  if (givenBundle === undefined) {
    execFileSync(process.execPath, ['scripts/bundle.mjs', bundleDir], { cwd: root, stdio: 'ignore' });
    execFileSync(process.execPath, ['scripts/write-build-info.mjs', bundleDir], { cwd: root, stdio: 'ignore' });
  }
  const redis = await startTestRedis();
  const rows: Row[] = [];
  const results: Record<string, unknown> = {
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    startedAt: new Date().toISOString(),
    quick,
  };
  let peakRss = 0;
  try {
    if (only.has('idle')) {
      const r = await idle(redis);
      peakRss = Math.max(peakRss, r.peakRss);
      rows.push({
        name: 'idle: the gates process, CPU',
        value: `${r.cpuPercent.toFixed(2)} % of a core`,
        note: `over ${r.seconds.toFixed(0)} s`,
      });
      rows.push({ name: 'idle: redis-server, CPU', value: `${r.redisCpuPercent.toFixed(2)} % of a core` });
      rows.push({
        name: 'idle: Redis commands',
        value: `${r.commandsPerSecond.toFixed(1)} /s`,
        note: `${r.byCommand}; connections: ${r.clients.join(', ')}`,
      });
      results.idle = r;
    }

    if (only.has('latency')) {
      const r = await latency(redis, {
        proposalsPerSecond: 30,
        plansPerSecond: 60,
        seconds: quick ? 5 : 60,
        warmupSeconds: quick ? 2 : 10,
      });
      peakRss = Math.max(peakRss, r.peakRss);
      rows.push({
        name: 'decision latency at 30 proposals/s + 60 plans/s, p99',
        value: `${r.p99.toFixed(2)} ms`,
        requirement: { text: '≤ 25 ms, every message decided', met: r.p99 <= 25 && r.undecided.length === 0 },
        note: latencyNote(r),
      });
      results.latency = r;
    }

    if (only.has('heat')) {
      const backlog = quick ? 5_000 : 20_000;
      const gates = await drain(redis, () => writeProposals(redis.client, backlog), streams.harvestCalibrated, backlog);
      // The yardstick: the heat gate's work in a hand-written ioredis loop, none of the runtime's guarantees. Information only.
      const loop = await drain(
        redis,
        () => writeProposals(redis.client, backlog),
        'bench:handwritten:calibrated',
        backlog,
        async () => ({ proc: spawnTs('bench/hand-written-loop.ts', { REDIS_URL: redis.url }, GATES_NODE_FLAGS) }),
      );
      peakRss = Math.max(peakRss, gates.peakRss);
      rows.push({
        name: `heat gate, ${backlog.toLocaleString('en-US')} backlog`,
        value: `${rate(gates.perSecond)} proposals/s`,
        requirement: { text: '≥ 2,000, every decision taped', met: gates.perSecond >= 2000 && gates.notTaped === 0 },
        note: `CPU ${gates.cpuMicrosPerMessage.toFixed(0)} µs/proposal; ${tapedNote(gates.notTaped)}`,
      });
      rows.push({
        name: 'hand-written loop, same backlog (information)',
        value: `${rate(loop.perSecond)} proposals/s`,
        note: `the heat gate ${(gates.perSecond / loop.perSecond).toFixed(2)}× its rate; CPU ${loop.cpuMicrosPerMessage.toFixed(0)} µs/proposal`,
      });
      results.heat = { gates, loop };
    }

    if (only.has('governor')) {
      const plans = quick ? 2_000 : 20_000;
      const r = await drain(redis, () => writeGovernorPlans(redis.client, plans), streams.governorEvents, plans);
      peakRss = Math.max(peakRss, r.peakRss);
      rows.push({
        name: `governor, ${plans.toLocaleString('en-US')} backlog`,
        value: `${rate(r.perSecond)} plans/s`,
        requirement: { text: '≥ 1,000, every decision taped', met: r.perSecond >= 1000 && r.notTaped === 0 },
        note: `CPU ${r.cpuMicrosPerMessage.toFixed(0)} µs/plan; ${tapedNote(r.notTaped)}; redis-server ${r.redisMicrosPerMessage.toFixed(0)} µs/plan; ${r.redisCalls}`,
      });
      results.governor = r;
    }

    if (only.has('jobs')) {
      const jobs = quick ? 1_000 : 6_218;
      const r = await drain(redis, () => writeDueJobs(redis, jobs), streams.governorEvents, jobs);
      peakRss = Math.max(peakRss, r.peakRss);
      rows.push({
        name: `due jobs, ${jobs.toLocaleString('en-US')} after a restart`,
        value: `${rate(r.perSecond)} jobs/s`,
        requirement: { text: '≥ 500, every decision taped', met: r.perSecond >= 500 && r.notTaped === 0 },
        note: `CPU ${r.cpuMicrosPerMessage.toFixed(0)} µs/job; ${tapedNote(r.notTaped)}`,
      });
      results.jobs = r;
    }

    if (only.has('universe')) {
      // The same run twice, first without then with the universe. The book read's own cost of the
      // universe (the commands it sends, the same with or without) is test/integration/book-read-cost.test.ts's.
      const universe = quick ? 200 : 2_000;
      const run = (flat: number) =>
        latency(redis, {
          proposalsPerSecond: 5,
          plansPerSecond: 10,
          seconds: quick ? 5 : 40,
          warmupSeconds: quick ? 2 : 5,
          universe: flat,
        });
      const without = await run(0);
      const withUniverse = await run(universe);
      peakRss = Math.max(peakRss, without.peakRss, withUniverse.peakRss);
      rows.push({
        name: `decision latency, 20 held + ${universe.toLocaleString('en-US')} flat P3.3 symbols, 5 proposals/s + 10 plans/s, p99`,
        value: `${withUniverse.p99.toFixed(2)} ms`,
        requirement: { text: '≤ 25 ms, every message decided', met: withUniverse.p99 <= 25 && withUniverse.undecided.length === 0 },
        note: `${latencyNote(withUniverse)}; without the universe p99 ${without.p99.toFixed(2)} ms, p50 ${without.p50.toFixed(2)} ms`,
      });
      results.universe = { universe, with: withUniverse, without };
    }

    /** 5 proposals/s + 10 plans/s against a book of `held` positions (the rows at the pipeline's book sizes). */
    const atBookSize = (held: number) =>
      latency(redis, { proposalsPerSecond: 5, plansPerSecond: 10, seconds: quick ? 5 : 30, warmupSeconds: quick ? 2 : 5, held });

    if (only.has('held')) {
      const held = 100;
      const r = await atBookSize(held);
      peakRss = Math.max(peakRss, r.peakRss);
      rows.push({
        name: `decision latency, ${held} held positions, 5 proposals/s + 10 plans/s, p99`,
        value: `${r.p99.toFixed(2)} ms`,
        requirement: { text: '≤ 25 ms, every message decided', met: r.p99 <= 25 && r.undecided.length === 0 },
        note: latencyNote(r),
      });
      results.held = r;
    }

    if (only.has('hour')) {
      // A tenth of an hour at 100x the defaults: 10,800 proposals and 21,600 plans.
      const [proposals, plans] = quick ? [1_080, 2_160] : [10_800, 21_600];
      const r = await hourDrain(redis, proposals, plans);
      peakRss = Math.max(peakRss, r.peakRss);
      const c = r.caps;
      const hourMinutes = (10 * r.seconds * (quick ? 10 : 1)) / 60;
      rows.push({
        name: `${proposals.toLocaleString('en-US')} proposals + ${plans.toLocaleString('en-US')} plans backlog (${quick ? 'a hundredth' : 'a tenth'} of an hour at 100×), caps`,
        value: c.exact && r.exact ? 'exact' : 'NOT EXACT',
        requirement: { text: 'every message decided once and taped, the caps exact', met: r.exact && r.notTaped === 0 },
        note:
          `${tapedNote(r.notTaped)}; ${c.openPermits} of ${c.opens.toLocaleString('en-US')} opens permitted, the cap of $${r.capUsd.toLocaleString('en-US')} over a book of $${c.bookNotional?.toLocaleString('en-US')} allows ${c.expectedOpenPermits}; ` +
          `blocked: ${Object.entries(c.blockReasons)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ')}; pending ${r.pending}, dead letters ${r.deadLetters}` +
          (c.problems.length === 0 ? '' : `; ${c.problems.slice(0, 5).join('; ')}`),
      });
      rows.push({
        name: 'the same backlog, drained (information)',
        value: `${rate(r.perSecond)} messages/s`,
        note: `${r.seconds.toFixed(1)} s: ${rate(r.plansPerSecond)} plans/s, ${rate(r.proposalsPerSecond)} proposals/s; an hour's at this rate ${hourMinutes.toFixed(1)} min`,
      });
      results.hour = r;
    }

    if (only.has('rss')) {
      const held = 1_000;
      const r = await atBookSize(held);
      peakRss = Math.max(peakRss, r.peakRss);
      rows.push({
        name: `peak RSS of the gates process, ${held.toLocaleString('en-US')} held positions, 5 proposals/s + 10 plans/s`,
        value: mib(r.peakRss),
        requirement: { text: '≤ 150 MiB', met: r.peakRss <= 150 * 2 ** 20 },
        note: `p99 ${r.p99.toFixed(2)} ms, ${r.samples} decisions${r.undecided.length === 0 ? '' : `, ${r.undecided.length} UNDECIDED`}`,
      });
      results.rss = r;
    }

    /** The gates, as the pipeline-rates rows start them: ready once every held position is applied. */
    const gatesDeciders = async (): Promise<Deciders> => {
      const { proc, port } = await startGates(redis);
      return {
        procs: [proc],
        ready: async () => {
          await untilReady(port);
          await untilSnapshotsApplied(redis.client);
        },
      };
    };

    if (only.has('pipeline-rates')) {
      // Each message its own batch: at the pipeline's rates and at upstream's own, the gates, the
      // floor and the Python originals in turns (gates, floor, Python, gates) on one Redis.
      // Each rate with its own fresh processes, so no run's deferred work (cooldown expiries, outcome
      // samples) lands in the next; the idle before a run is taken out of it.
      const high = { proposalsPerSecond: 30, plansPerSecond: 60 };
      const lone = { proposalsPerSecond: 0.3, plansPerSecond: 0.6, seconds: quick ? 10 : 60, warmupSeconds: quick ? 2 : 5 };
      // Upstream's own rates twice with the same processes: as the first minute after a start finds
      // them, then once they have decided what 30 + 60/s sends in 10 s, as a service up for more than
      // a few minutes is (its code compiled hot: Rates.primed). The requirement is the second's.
      const options = {
        groups: [
          { idleSeconds: quick ? 5 : 20, rates: [{ ...high, seconds: quick ? 5 : 40, warmupSeconds: quick ? 2 : 10 }] },
          {
            idleSeconds: quick ? 5 : 30,
            rates: [
              lone,
              {
                ...lone,
                // The cooldown a permit starts (GOV_SYMBOL_COOLDOWN_SECONDS, 60 s) ends before the run.
                primed: { ...high, seconds: quick ? 2 : 10, settleSeconds: quick ? 5 : 65 },
              },
            ],
          },
        ],
      };
      const allRates = options.groups.flatMap((group) => group.rates);
      const turns: { who: 'gates' | 'floor' | 'python'; r: PipelineRatesResult }[] = [];
      const turn = async (who: 'gates' | 'floor' | 'python') => {
        const each: PipelineRatesResult[] = [];
        for (const group of options.groups) {
          const one = { held: SYMBOLS, ...group };
          each.push(
            who === 'gates'
              ? await atPipelineRates(redis, gatesDeciders, one)
              : who === 'floor'
                ? await atPipelineRates(redis, async () => floorDeciders(redis, GATES_NODE_FLAGS), one)
                : await withKeyEvents(redis.client, () => atPipelineRates(redis, () => pythonDeciders(redis), one)),
          );
        }
        const r = { idle: each[0]!.idle, runs: each.flatMap((x) => x.runs), peakRss: Math.max(...each.map((x) => x.peakRss)) };
        turns.push({ who, r });
        if (who === 'gates') peakRss = Math.max(peakRss, r.peakRss);
      };
      for (const who of ['gates', 'floor', 'python', 'gates'] as const) await turn(who);
      const of = (who: string) => turns.filter((t) => t.who === who);
      allRates.forEach((rates, i) => {
        const cold = rates === lone;
        const at = `${rates.proposalsPerSecond} proposals/s + ${rates.plansPerSecond} plans/s${
          cold
            ? ', the first minute after a start'
            : 'primed' in rates
              ? `, a process that has decided ${rates.primed.seconds} s of 30 + 60/s first`
              : ''
        }`;
        const gates = of('gates').map((t) => t.r.runs[i]!);
        const [floor, python] = [of('floor')[0]!.r.runs[i]!, of('python')[0]!.r.runs[i]!];
        const mean = (f: (x: RatesResult) => number) => gates.reduce((sum, x) => sum + f(x), 0) / gates.length;
        const commands = mean((x) => x.commandsPerDecision);
        const decidedAll = gates.every((x) => x.undecided === 0);
        rows.push({
          name: `a decision at ${at}, each its own batch: Redis commands${cold ? ' (information)' : ''}`,
          value: `${commands.toFixed(1)}`,
          ...(cold
            ? {}
            : { requirement: { text: '≤ 2× the floor, idle taken out', met: commands <= 2 * floor.commandsPerDecision && decidedAll } }),
          note: `turns ${gates.map((x) => x.commandsPerDecision.toFixed(1)).join(' / ')}; the floor ${floor.commandsPerDecision.toFixed(1)}; Python ${python.commandsPerDecision.toFixed(1)}; by command: ${commandMap(gates[0]!.byCommand)}`,
        });
        // The first minute's CPU is not a decision's: the idle taken out of it is the start-up's compiling.
        if (!cold)
          rows.push({
            name: `a decision at ${at}: CPU (information)`,
            value: `${mean((x) => x.cpuMsPerDecision).toFixed(2)} ms`,
            // ± the idle's own spread (RatesResult.cpuMsUncertainty): at upstream's rates larger than a decision's CPU.
            note: `turns ${gates.map((x) => `${x.cpuMsPerDecision.toFixed(2)} ± ${x.cpuMsUncertainty.toFixed(2)}`).join(' / ')}; the floor ${floor.cpuMsPerDecision.toFixed(2)} ± ${floor.cpuMsUncertainty.toFixed(2)}; Python ${python.cpuMsPerDecision.toFixed(2)} ± ${python.cpuMsUncertainty.toFixed(2)}; redis-server ${mean((x) => x.redisCpuMsPerDecision * 1000).toFixed(0)} µs (the floor ${(floor.redisCpuMsPerDecision * 1000).toFixed(0)}, Python ${(python.redisCpuMsPerDecision * 1000).toFixed(0)})`,
          });
        const [p50Proposals, p50Plans] = [mean((x) => x.proposals.p50), mean((x) => x.plans.p50)];
        rows.push({
          name: `a decision at ${at}: latency p50, proposals / plans${cold ? ' (information)' : ''}`,
          value: `${p50Proposals.toFixed(2)} / ${p50Plans.toFixed(2)} ms`,
          ...(cold
            ? {}
            : {
                requirement: {
                  text: "≤ the Python original's",
                  met: p50Proposals <= python.proposals.p50 && p50Plans <= python.plans.p50 && decidedAll,
                },
              }),
          note: `turns ${gates.map((x) => `${x.proposals.p50.toFixed(2)} / ${x.plans.p50.toFixed(2)}`).join(', ')}; p99 ${gates.map((x) => `${x.proposals.p99.toFixed(2)} / ${x.plans.p99.toFixed(2)}`).join(', ')}; the floor p50 ${floor.proposals.p50.toFixed(2)} / ${floor.plans.p50.toFixed(2)}; Python p50 ${python.proposals.p50.toFixed(2)} / ${python.plans.p50.toFixed(2)}, p99 ${python.proposals.p99.toFixed(2)} / ${python.plans.p99.toFixed(2)}; ${gates.map((x) => x.decisions).join(' / ')} decisions${decidedAll ? '' : ', SOME UNDECIDED'}`,
        });
      });
      rows.push({
        name: 'idle, the same processes: Redis commands (information)',
        value: `${(of('gates').reduce((sum, t) => sum + t.r.idle.commandsPerSecond, 0) / of('gates').length).toFixed(1)} /s`,
        note: `the floor ${of('floor')[0]!.r.idle.commandsPerSecond.toFixed(1)}, Python ${of('python')[0]!.r.idle.commandsPerSecond.toFixed(1)}; the gates by command: ${commandMap(of('gates')[0]!.r.idle.byCommand)}`,
      });
      results.pipelineRates = turns;
    }

    if (only.has('held-slope')) {
      // What a held symbol costs a decision: the same rates against books of 100, 300 and 1,000 held positions.
      const books = quick ? [100, 300] : [100, 300, 1_000];
      const measured: { held: number; run: RatesResult }[] = [];
      for (const held of books) {
        const r = await atPipelineRates(redis, gatesDeciders, {
          held,
          idleSeconds: quick ? 5 : 15,
          rates: [{ proposalsPerSecond: 5, plansPerSecond: 10, seconds: quick ? 5 : 30, warmupSeconds: quick ? 2 : 5 }],
        });
        peakRss = Math.max(peakRss, r.peakRss);
        measured.push({ held, run: r.runs[0]! });
      }
      const [first, last] = [measured[0]!, measured.at(-1)!];
      // A decision's share: the book's reads by change (1.8.0) send only the keys written since the
      // last read, so a decision's Redis cost follows the producers' writes, and its CPU the book's size.
      const BOOK_COMMANDS = new Set(['hmget', 'hget', 'sismember']);
      const perDecision = (x: RatesResult) => ({
        bookCommands: x.byCommand.reduce((sum, [name, n]) => sum + (BOOK_COMMANDS.has(name) ? n : 0), 0),
        redisUs: x.redisCpuMsPerDecision * 1000,
        cpuMs: x.cpuMsPerDecision,
      });
      const slope = (f: (x: ReturnType<typeof perDecision>) => number) =>
        (f(perDecision(last.run)) - f(perDecision(first.run))) / (last.held - first.held);
      for (const { held, run } of measured)
        rows.push({
          name: `decision latency, ${held.toLocaleString('en-US')} held positions, 5 proposals/s + 10 plans/s, p99`,
          value: `${run.all.p99.toFixed(2)} ms`,
          requirement: { text: '≤ 25 ms, every message decided', met: run.all.p99 <= 25 && run.undecided === 0 },
          note: `p50 ${run.all.p50.toFixed(2)} ms, ${run.decisions} decisions; a decision: ${perDecision(run).bookCommands.toFixed(0)} HMGET/HGET/SISMEMBER, redis-server ${perDecision(run).redisUs.toFixed(0)} µs, the gates' CPU ${perDecision(run).cpuMs.toFixed(1)} ms, ${run.commandsPerDecision.toFixed(0)} commands; by command: ${commandMap(run.byCommand)}`,
        });
      rows.push({
        name: `a held symbol's cost a decision, ${first.held} → ${last.held} held (information)`,
        value: `${(slope((x) => x.cpuMs) * 1000).toFixed(1)} µs of the gates' CPU`,
        note: `${slope((x) => x.redisUs).toFixed(2)} µs of redis-server, ${slope((x) => x.bookCommands).toFixed(3)} commands (HMGET, HGET, SISMEMBER)`,
      });
      results.heldSlope = measured;
    }

    rows.push({
      name: 'peak RSS of the gates process, every run above',
      value: mib(peakRss),
      requirement: { text: '≤ 150 MiB', met: peakRss <= 150 * 2 ** 20 },
    });
    results.peakRss = peakRss;
    writeFileSync(resolve(resultsDir, 'latest.json'), JSON.stringify({ ...results, rows }, null, 2));

    const width = Math.max(...rows.map((r) => r.name.length));
    console.log(
      `\nquantum-gates benchmark: ${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'}), Node ${process.version}, ${new Date().toISOString()}\n`,
    );
    for (const row of rows) {
      const requirement = row.requirement === undefined ? '' : `  [${row.requirement.met ? 'met' : 'NOT MET'}: ${row.requirement.text}]`;
      console.log(`${row.name.padEnd(width)}  ${row.value}${requirement}${row.note === undefined ? '' : `  (${row.note})`}`);
    }
    console.log('\nresults: bench/results/latest.json');
    if (rows.some((r) => r.requirement?.met === false)) process.exitCode = 1;
  } finally {
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
