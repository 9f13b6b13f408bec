/**
 * `npm run bench`: the gates against the performance the product owes (docs/performance.md,
 * "Requirements"), every gate in one process as `npm start` runs them, from the esbuild bundle
 * `npm run build` makes (bundled afresh into bench/results/dist/ from the checkout). Starts its own
 * redis-server; prints each figure beside its requirement and writes bench/results/latest.json.
 *
 * BENCH_ONLY=idle,latency,heat,governor,jobs picks sections (default all); BENCH_QUICK=1 shrinks
 * every run (a smoke check, not figures).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { streams } from '../schemas/keys.js';
import { REDIS_PROTOCOL } from '../runtime/host/redis.js';
import { freePort, startTestRedis, type TestRedis } from '../test/support/redis-server.js';
import { planFields, seedPortfolio, writeGovernorPlans } from './governor-plans.js';
import { root, spawnNode, spawnTs, type Spawned } from './processes.js';

const quick = process.env.BENCH_QUICK === '1';
const SECTIONS = ['idle', 'latency', 'heat', 'governor', 'jobs'] as const;
const only = new Set((process.env.BENCH_ONLY ?? SECTIONS.join(',')).split(',').map((s) => s.trim()));
for (const s of only)
  if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`BENCH_ONLY: unknown section ${s} (${SECTIONS.join(', ')})`);
const resultsDir = resolve(root, 'bench', 'results');
/** BENCH_BUNDLE_DIR: another commit's bundle (`node scripts/bundle.mjs <dir>` in its worktree), to compare two in turns. */
const givenBundle = process.env.BENCH_BUNDLE_DIR;
const bundleDir = givenBundle === undefined ? resolve(resultsDir, 'dist') : resolve(givenBundle);
/** The flags `npm start` runs with (package.json). */
const NODE_FLAGS = ['--max-semi-space-size=2', '--heap-growing-percent=50'];
const SYMBOLS = 20;

/** Every gate in one process, from the bundle. */
async function startGates(redis: TestRedis): Promise<{ proc: Spawned; port: number }> {
  const port = await freePort();
  const env = {
    REDIS_URL: redis.url,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    // The bench's plans are written before the gates start; the governor would refuse them as stale.
    GOV_MAX_PLAN_AGE_SEC: '0',
  };
  return { proc: spawnNode([...NODE_FLAGS, resolve(bundleDir, 'app', 'main.js')], env), port };
}

async function waitReady(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined);
    if (response?.status === 200) return;
    await sleep(50);
  }
  throw new Error('the gates did not become ready');
}

async function waitForLength(redis: Redis, stream: string, count: number, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await redis.xlen(stream)) < count) {
    if (Date.now() > deadline) throw new Error(`${stream} did not reach ${count} entries in ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Entries per second between the first and the last entry of `stream`, from their ids (Redis's clock). */
async function drainRate(redis: Redis, stream: string, count: number): Promise<number> {
  const [[first]] = (await redis.xrange(stream, '-', '+', 'COUNT', 1)) as [[string, string[]]];
  const [[last]] = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1)) as [[string, string[]]];
  const spanMs = Number(last.split('-')[0]) - Number(first.split('-')[0]);
  return ((count - 1) * 1000) / Math.max(spanMs, 1);
}

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
    await waitReady(port);
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

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Decision latency at `proposalsPerSecond` proposals and `plansPerSecond` plans together: a
 * producer's XADD to the decision seen by an XREAD BLOCK client (the heat gate's calibrated entry,
 * the governor's permit or block), after `warmupSeconds` at the same rates.
 */
async function latency(redis: TestRedis, proposalsPerSecond: number, plansPerSecond: number, seconds: number, warmupSeconds: number) {
  await redis.client.flushall();
  await seedPortfolio(redis.client, SYMBOLS);
  const { proc, port } = await startGates(redis);
  const producer = new Redis(redis.url, { protocol: REDIS_PROTOCOL });
  const observer = new Redis(redis.url, { protocol: REDIS_PROTOCOL });
  try {
    await waitReady(port);
    const sentAt = new Map<string, { at: number; measured: boolean }>();
    const proposals: number[] = [];
    const plans: number[] = [];
    let observing = true;
    const observe = (async () => {
      const last: Record<string, string> = { [streams.harvestCalibrated]: '$', [streams.governorEvents]: '$' };
      while (observing) {
        const reply = (await observer.xread('COUNT', 1000, 'BLOCK', 200, 'STREAMS', ...Object.keys(last), ...Object.values(last))) as
          [string, [string, string[]][]][] | null;
        const now = performance.now();
        for (const [stream, entries] of reply ?? [])
          for (const [id, fields] of entries) {
            last[stream] = id;
            const planId = fields[fields.indexOf('plan_id') + 1]!;
            const sent = sentAt.get(planId);
            if (sent === undefined) continue;
            sentAt.delete(planId);
            if (sent.measured) (stream === streams.governorEvents ? plans : proposals).push(now - sent.at);
          }
      }
    })();
    const started = performance.now();
    const total = warmupSeconds + seconds;
    let [sentProposals, sentPlans] = [0, 0];
    while (performance.now() - started < total * 1000) {
      const elapsed = (performance.now() - started) / 1000;
      const measured = elapsed >= warmupSeconds;
      for (; sentProposals < Math.floor(elapsed * proposalsPerSecond); sentProposals++) {
        const planId = `lat-${sentProposals}`;
        sentAt.set(planId, { at: performance.now(), measured });
        void producer.xadd(
          streams.harvestProposal,
          '*',
          'plan_id',
          planId,
          'symbol',
          `SYM${sentProposals % SYMBOLS}USDT`,
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

/** Drains `count` entries already written (`fill`) by the gates (or `start`'s process) until `output` holds `count`; CPU from the first output on. */
async function drain(
  redis: TestRedis,
  fill: () => Promise<void>,
  output: string,
  count: number,
  start: () => Promise<Spawned> = async () => (await startGates(redis)).proc,
) {
  await redis.client.flushall();
  await seedPortfolio(redis.client, SYMBOLS);
  await fill();
  const proc = await start();
  try {
    await waitForLength(redis.client, output, 1);
    const [cpuBefore, doneBefore] = [proc.cpuMs(), await redis.client.xlen(output)];
    await waitForLength(redis.client, output, count);
    return {
      perSecond: await drainRate(redis.client, output, count),
      cpuMicrosPerMessage: ((proc.cpuMs() - cpuBefore) * 1000) / Math.max(1, count - doneBefore),
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
      const r = await latency(redis, 30, 60, quick ? 5 : 60, quick ? 2 : 10);
      peakRss = Math.max(peakRss, r.peakRss);
      rows.push({
        name: 'decision latency at 30 proposals/s + 60 plans/s, p99',
        value: `${r.p99.toFixed(2)} ms`,
        requirement: { text: '≤ 25 ms, every message decided', met: r.p99 <= 25 && r.undecided.length === 0 },
        note: `${r.undecided.length === 0 ? '' : `UNDECIDED after 15 s: ${r.undecided.join(' ')}; `}p50 ${r.p50.toFixed(2)} ms, max ${r.max.toFixed(1)} ms, proposals' p99 ${r.proposalsP99.toFixed(2)} ms, plans' p99 ${r.plansP99.toFixed(2)} ms, ${r.samples} decisions`,
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
        async () => spawnTs('bench/hand-written-loop.ts', { REDIS_URL: redis.url }, NODE_FLAGS),
      );
      peakRss = Math.max(peakRss, gates.peakRss);
      rows.push({
        name: `heat gate, ${backlog.toLocaleString('en-US')} backlog`,
        value: `${rate(gates.perSecond)} proposals/s`,
        requirement: { text: '≥ 2,000', met: gates.perSecond >= 2000 },
        note: `CPU ${gates.cpuMicrosPerMessage.toFixed(0)} µs/proposal`,
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
        requirement: { text: '≥ 250', met: r.perSecond >= 250 },
        note: `CPU ${r.cpuMicrosPerMessage.toFixed(0)} µs/plan`,
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
        requirement: { text: '≥ 500', met: r.perSecond >= 500 },
        note: `CPU ${r.cpuMicrosPerMessage.toFixed(0)} µs/job`,
      });
      results.jobs = r;
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
