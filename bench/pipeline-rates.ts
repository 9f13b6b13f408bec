/**
 * A decision at the pipeline's rates, each message its own batch (bench/run.ts, section
 * `pipeline-rates`): the Redis commands a decision costs (INFO commandstats, a script's own calls
 * included, with the idle rate and the bench's own sends and reads taken out), the deciding
 * processes' CPU a decision (idle taken out), and the latency from a producer's XADD to the
 * decision seen, for the proposals and the plans apart. Run for the gates, for a hand-written floor
 * (bench/hand-written-loop.ts for the proposals, bench/floor-governor.ts for the plans) and for the
 * Python originals (P2.6 portfolio_heat_gate and P3.2 governor, extracted from the upstream mirror
 * at bench time into a temporary directory and run with Debian's python3 and python3-redis).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { streams } from '../schemas/keys.js';
import { REDIS_PROTOCOL } from '../runtime/host/redis.js';
import { freePort, type TestRedis } from '../test/support/redis-server.js';
import { marketStatePublished, p33NewestHash, tickerHash } from '../test/support/book-producers.js';
import { keys } from '../schemas/keys.js';
import { seeded } from '../domain/seeded-random.js';
import { decisionsSeen } from './decisions-seen.js';
import { planFields, seedPortfolio } from './governor-plans.js';
import { percentile, spawnProcess, spawnTs, type Spawned } from './processes.js';

/** What decides: its processes (their CPU is the decisions'), and when it is ready for messages. */
export interface Deciders {
  readonly procs: readonly Spawned[];
  ready(): Promise<void>;
}

export interface Rates {
  readonly proposalsPerSecond: number;
  readonly plansPerSecond: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /**
   * Before this run's warm-up, the same processes first decide `seconds` at `rates` (not measured),
   * then wait `settleSeconds` for that work's deferred part (a permit's cooldown job) to land: the
   * run then measures a process whose code V8 has compiled hot, as a service up for more than a
   * few minutes is, where a fresh process at 0.9 decisions a second still runs most of its code
   * unoptimized for its first minutes.
   */
  readonly primed?: Pick<Rates, 'proposalsPerSecond' | 'plansPerSecond' | 'seconds'> & { readonly settleSeconds: number };
}

export interface RatesResult {
  readonly rates: Rates;
  readonly decisions: number;
  readonly commandsPerDecision: number;
  /** Commands a decision by name, idle taken out, largest first. */
  readonly byCommand: readonly (readonly [string, number])[];
  readonly cpuMsPerDecision: number;
  /**
   * How far cpuMsPerDecision may be off for the idle alone: the spread of the idle's CPU between
   * its 5 s slices, as the run's mean rate would spread, times the run's length, a decision. At
   * upstream's rates a decision's CPU is a tenth of the idle's in the same time, and within this.
   */
  readonly cpuMsUncertainty: number;
  /** redis-server's CPU a decision (its own work and the bench's few calls), idle taken out. */
  readonly redisCpuMsPerDecision: number;
  readonly all: { p50: number; p99: number; samples: number };
  readonly proposals: { p50: number; p99: number; samples: number };
  readonly plans: { p50: number; p99: number; samples: number };
  readonly undecided: number;
}

export interface PipelineRatesResult {
  readonly idle: { commandsPerSecond: number; cpuPercent: number; byCommand: readonly (readonly [string, number])[] };
  readonly runs: readonly RatesResult[];
  readonly peakRss: number;
}

const summary = (samples: number[]) => {
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), samples: samples.length };
};

/** Calls by command (INFO commandstats) and redis-server's CPU so far (ms, user + system), in one INFO call. */
async function redisCounters(redis: Redis): Promise<{ calls: Map<string, number>; cpuMs: number }> {
  const info = (await redis.call('INFO', 'cpu', 'commandstats')) as string;
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return { calls, cpuMs: (field('used_cpu_user') + field('used_cpu_sys')) * 1000 };
}

/** Calls by command between two readings, less the bench's own (`own`) and the reading's INFO. */
export function delta(before: Map<string, number>, after: Map<string, number>, own: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, n] of after) {
    const d = n - (before.get(name) ?? 0) - (own.get(name) ?? 0) - (name === 'info' ? 1 : 0);
    if (d !== 0) out.set(name, d);
  }
  return out;
}

/**
 * Calls a decision by command: a window's calls less what the idle rate would have sent over it,
 * over the decisions. A command the idle run sent and the window did not (a periodic job's phase)
 * counts negative, so the total is the window's less the idle's. Shares under 0.005 a decision are left out.
 */
export function perDecisionCalls(
  windowCalls: ReadonlyMap<string, number>,
  idleRate: ReadonlyMap<string, number>,
  seconds: number,
  decisions: number,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of new Set([...windowCalls.keys(), ...idleRate.keys()])) {
    const net = ((windowCalls.get(name) ?? 0) - (idleRate.get(name) ?? 0) * seconds) / decisions;
    if (Math.abs(net) >= 0.005) out.set(name, net);
  }
  return out;
}

const cpuOf = (procs: readonly Spawned[]) => procs.reduce((sum, p) => sum + p.cpuMs(), 0);
const IDLE_SLICE_SECONDS = 5;

/**
 * Starts `start`'s deciders on a book of `held` positions, measures them idle for `idleSeconds`,
 * then at each of `rates` in turn with the same processes.
 */
export async function atPipelineRates(
  redis: TestRedis,
  start: () => Promise<Deciders>,
  options: { held: number; idleSeconds: number; rates: readonly Rates[] },
): Promise<PipelineRatesResult> {
  const client = redis.client;
  await client.flushall();
  await seedPortfolio(client, options.held);
  const deciders = await start();
  const producer = new Redis(redis.url, { protocol: REDIS_PROTOCOL });
  const observer = new Redis(redis.url, { protocol: REDIS_PROTOCOL });
  const subscriber = new Redis(redis.url, { protocol: REDIS_PROTOCOL });
  /** The bench's own commands, by name, counted as they are sent. */
  const own = new Map<string, number>();
  const count = (name: string) => own.set(name, (own.get(name) ?? 0) + 1);
  const sentAt = new Map<string, { at: number; plan: boolean; measured: boolean }>();
  const seen: { plan: boolean; ms: number }[] = [];
  const decided = (planId: string) => {
    const sent = sentAt.get(planId);
    if (sent === undefined) return;
    sentAt.delete(planId);
    if (sent.measured) seen.push({ plan: sent.plan, ms: performance.now() - sent.at });
  };
  let observing = true;
  let producing: (() => void) | undefined;
  try {
    await deciders.ready();
    // The Python governor writes no event: its permit or block key (SETEX) is its decision, seen by keyspace event.
    await subscriber.subscribe('__keyevent@0__:set');
    subscriber.on('message', (_channel: string, key: string) => {
      const match = /^quantum:(?:permit|governor:block):(gov-\d+)$/.exec(key);
      if (match) decided(match[1]!);
    });
    const observe = decisionsSeen(observer, {
      from: '$',
      blockMs: 100,
      running: () => observing,
      seen: (_stream, planId) => decided(planId),
      beforeRead: () => count('xread'),
    });
    producing = produceMarks(producer, options.held, count);
    // Past the start-up and the first of every periodic job.
    await sleep(5_000);

    const reading = async () => ({
      redis: await redisCounters(client),
      cpu: cpuOf(deciders.procs),
      at: performance.now(),
      own: new Map(own),
    });
    const between = (a: Awaited<ReturnType<typeof reading>>, b: Awaited<ReturnType<typeof reading>>) => {
      const ownDelta = new Map([...b.own].map(([name, n]) => [name, n - (a.own.get(name) ?? 0)]));
      return {
        calls: delta(a.redis.calls, b.redis.calls, ownDelta),
        cpuMs: b.cpu - a.cpu,
        redisCpuMs: b.redis.cpuMs - a.redis.cpuMs,
        seconds: (b.at - a.at) / 1000,
      };
    };

    const measureIdle = async () => {
      const idleFrom = await reading();
      // The idle's CPU in slices, to know how steady it is (its periodic jobs come every 1 to 60 s).
      const sliceRates: number[] = [];
      let sliceFrom = { cpu: idleFrom.cpu, at: idleFrom.at };
      for (let left = options.idleSeconds; left > 0; left -= IDLE_SLICE_SECONDS) {
        await sleep(Math.min(left, IDLE_SLICE_SECONDS) * 1000);
        const sliceTo = { cpu: cpuOf(deciders.procs), at: performance.now() };
        sliceRates.push(((sliceTo.cpu - sliceFrom.cpu) / (sliceTo.at - sliceFrom.at)) * 1000);
        sliceFrom = sliceTo;
      }
      const idle = between(idleFrom, await reading());
      const idleCpuPerSecond = idle.cpuMs / idle.seconds;
      const variance = sliceRates.reduce((sum, r) => sum + (r - idleCpuPerSecond) ** 2, 0) / Math.max(1, sliceRates.length - 1);
      return {
        idle,
        idleRate: new Map([...idle.calls].map(([name, n]) => [name, n / idle.seconds])),
        idleCpuPerSecond,
        idleCpuSliceSpread: Math.sqrt(variance),
        idleRedisCpuPerSecond: idle.redisCpuMs / idle.seconds,
      };
    };
    const first = await measureIdle();
    const { idle } = first;
    let { idleRate, idleCpuPerSecond, idleCpuSliceSpread, idleRedisCpuPerSecond } = first;

    let proposalNumber = 0;
    let planNumber = 0;
    // Each stream's messages a mean 1/rate apart, each gap drawn between a half and one and a half
    // of it (the same draws every run). At a fixed period a proposal every 3.33 s met the ticker
    // written every second at the same three phases all run long, and a run's latency was those
    // phases': one build's proposals p50 at upstream's rates was 6.8 to 11.2 ms in five runs, and
    // 6.5 to 7.0 in three with the gaps drawn (2026-11-29, an AMD EPYC).
    const random = seeded(1);
    const gapMs = (perSecond: number) => (1000 / perSecond) * (0.5 + random());
    const runs: RatesResult[] = [];
    for (const rates of options.rates) {
      seen.length = 0;
      const send = async (untilMs: number, measured: boolean, at: Pick<Rates, 'proposalsPerSecond' | 'plansPerSecond'> = rates) => {
        let nextProposal = performance.now() + gapMs(at.proposalsPerSecond);
        let nextPlan = performance.now() + gapMs(at.plansPerSecond);
        while (performance.now() < untilMs) {
          for (; nextProposal <= performance.now(); nextProposal += gapMs(at.proposalsPerSecond), proposalNumber++) {
            const planId = `lat-${proposalNumber}`;
            sentAt.set(planId, { at: performance.now(), plan: false, measured });
            count('xadd');
            void producer.xadd(
              streams.harvestProposal,
              '*',
              'plan_id',
              planId,
              'symbol',
              `SYM${proposalNumber % options.held}USDT`,
              'action',
              'FULL_CLOSE',
            );
          }
          for (; nextPlan <= performance.now(); nextPlan += gapMs(at.plansPerSecond), planNumber++) {
            sentAt.set(`gov-${planNumber}`, { at: performance.now(), plan: true, measured });
            count('xadd');
            void producer.xadd(streams.applyPlan, '*', ...planFields(planNumber));
          }
          await sleep(1);
        }
      };
      if (rates.primed) {
        await send(performance.now() + rates.primed.seconds * 1000, false, rates.primed);
        await sleep(rates.primed.settleSeconds * 1000);
        // What the priming sent and no decision answered is not this run's.
        for (const [planId, s] of sentAt) if (!s.measured) sentAt.delete(planId);
        // The idle taken out of this run is the primed process's: the first window's held its start-up's compiling.
        ({ idleRate, idleCpuPerSecond, idleCpuSliceSpread, idleRedisCpuPerSecond } = await measureIdle());
      }
      await send(performance.now() + rates.warmupSeconds * 1000, false);
      const from = await reading();
      await send(performance.now() + rates.seconds * 1000, true);
      for (let i = 0; i < 150 && [...sentAt.values()].some((s) => s.measured); i++) await sleep(100);
      const window = between(from, await reading());
      const undecided = [...sentAt.values()].filter((s) => s.measured).length;
      for (const [planId, s] of sentAt) if (s.measured) sentAt.delete(planId);
      const decisions = Math.max(1, seen.length);
      const perDecision = perDecisionCalls(window.calls, idleRate, window.seconds, decisions);
      runs.push({
        rates,
        decisions: seen.length,
        commandsPerDecision: [...perDecision.values()].reduce((sum, n) => sum + n, 0),
        byCommand: [...perDecision].sort((a, b) => b[1] - a[1]),
        cpuMsPerDecision: (window.cpuMs - idleCpuPerSecond * window.seconds) / decisions,
        // A run's mean idle rate spreads as a slice's over the slices the run holds.
        cpuMsUncertainty: (idleCpuSliceSpread * Math.sqrt(IDLE_SLICE_SECONDS / window.seconds) * window.seconds) / decisions,
        redisCpuMsPerDecision: (window.redisCpuMs - idleRedisCpuPerSecond * window.seconds) / decisions,
        all: summary(seen.map((s) => s.ms)),
        proposals: summary(seen.filter((s) => !s.plan).map((s) => s.ms)),
        plans: summary(seen.filter((s) => s.plan).map((s) => s.ms)),
        undecided,
      });
    }
    const idleTotal = [...idle.calls.values()].reduce((sum, n) => sum + n, 0);
    observing = false;
    await observe;
    return {
      idle: {
        commandsPerSecond: idleTotal / idle.seconds,
        cpuPercent: (idleCpuPerSecond / 1000) * 100,
        byCommand: [...idleRate].sort((a, b) => b[1] - a[1]),
      },
      runs,
      peakRss: Math.max(...deciders.procs.map((p) => p.peakRss())),
    };
  } finally {
    observing = false;
    producing?.();
    producer.disconnect();
    observer.disconnect();
    subscriber.disconnect();
    for (const p of deciders.procs) await p.stop();
  }
}

/** Until every named group exists on its stream (the consumer has started). */
async function untilGroups(redis: Redis, groups: readonly (readonly [stream: string, group: string])[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let all = true;
    for (const [stream, group] of groups) {
      const listed = (await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
      if (!listed.some((flat) => flat[flat.indexOf('name') + 1] === group)) all = false;
    }
    if (all) return;
    if (Date.now() > deadline)
      throw new Error(`consumer groups not created in ${timeoutMs} ms: ${groups.map((g) => g.join('/')).join(', ')}`);
    await sleep(100);
  }
}

/** The floor: the heat gate's hand-written loop writing the calibrated stream, and the governor's floor. */
export function floorDeciders(redis: TestRedis, nodeFlags: readonly string[]): Deciders {
  const env = { REDIS_URL: redis.url };
  const procs = [
    spawnTs('bench/hand-written-loop.ts', { ...env, OUTPUT: streams.harvestCalibrated, COUNT: '10' }, nodeFlags),
    spawnTs('bench/floor-governor.ts', env, nodeFlags),
  ];
  return {
    procs,
    ready: () =>
      untilGroups(redis.client, [
        [streams.harvestProposal, 'handwritten'],
        [streams.applyPlan, 'floor-governor'],
      ]),
  };
}

/** The upstream mirror and the originals' paths at the commits the seeds match (docs/migration.md). */
const UPSTREAM = process.env.BENCH_UPSTREAM_GIT ?? '/work/.mirror/binyaminsemerci-ops+quantum_trader/repo';
const ORIGINALS = [
  { name: 'p26_heat_gate.py', at: '1370c1def:microservices/portfolio_heat_gate/main.py' },
  { name: 'p32_governor.py', at: '8f5055c52:microservices/governor/main.py' },
] as const;
/** Debian's python3 (python3-redis, python3-prometheus-client), not a user's own. */
const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';

/**
 * The Python originals, P2.6 and P3.2, each its own process as upstream's units run them: read
 * from the upstream mirror into a temporary directory (removed when they stop), unmodified.
 */
export async function pythonDeciders(redis: TestRedis): Promise<Deciders> {
  const dir = mkdtempSync(join(tmpdir(), 'qg-originals-'));
  for (const { name, at } of ORIGINALS) writeFileSync(join(dir, name), execFileSync('git', ['-C', UPSTREAM, 'show', at]));
  const env = {
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(redis.port),
    P26_METRICS_PORT: String(await freePort()),
    METRICS_PORT: String(await freePort()),
    APPLY_MODE: 'testnet',
    PYTHONUNBUFFERED: '1',
  };
  const procs = ORIGINALS.map(({ name }) => spawnProcess(PYTHON, [join(dir, name)], env));
  const stopAll = procs.map((p) => p.stop);
  return {
    procs: procs.map((p, i) => ({
      ...p,
      stop: async () => {
        await stopAll[i]!();
        if (i === procs.length - 1) rmSync(dir, { recursive: true, force: true });
      },
    })),
    ready: () =>
      untilGroups(redis.client, [
        [streams.harvestProposal, 'p26_heat_gate'],
        [streams.applyPlan, 'governor'],
      ]),
  };
}

/**
 * The producers that rewrite the held symbols' figures while the pipeline runs, at upstream's own
 * periods, so a read of the book by change pays what it pays in production (the floor and the
 * Python originals read none of these): the price feed's ticker every second with a 10 s TTL
 * (microservices/price_feed/price_feed.py @73fab1f55, `!markPrice@arr@1s`, lines 86-105), P3.3's
 * hash every 5 s (position_state_brain P33_POLL_SEC) and the market state publisher's every 60 s
 * (market_state_publisher/main.py @73fab1f55 line 29). Each command is the bench's own (`count`),
 * taken out of the gates'. Returns the stop.
 */
export function produceMarks(producer: Redis, held: number, count: (name: string) => void): () => void {
  const symbols = Array.from({ length: held }, (_, i) => `SYM${i}USDT`);
  const write = (fields: (symbol: string) => [key: string, hash: Record<string, string>, ttlSec?: number]) => {
    const pipeline = producer.pipeline();
    for (const symbol of symbols) {
      const [key, hash, ttlSec] = fields(symbol);
      pipeline.hset(key, hash);
      count('hset');
      if (ttlSec !== undefined) {
        pipeline.expire(key, ttlSec);
        count('expire');
      }
    }
    void pipeline.exec();
  };
  const ticker = () => write((symbol) => [keys.ticker(symbol), tickerHash(symbol, 10, Date.now()), 10]);
  const p33 = () => write((symbol) => [keys.p33StatePositions(symbol), p33NewestHash(symbol, 100, 10, Date.now() / 1000), 3600]);
  const published = () => write((symbol) => [keys.marketStatePublished(symbol), marketStatePublished(0.2, Date.now() / 1000), 600]);
  ticker();
  p33();
  published();
  const timers = [setInterval(ticker, 1_000), setInterval(p33, 5_000), setInterval(published, 60_000)];
  return () => timers.forEach(clearInterval);
}
