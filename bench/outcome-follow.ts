/**
 * `npx tsx bench/outcome-follow.ts`: the Redis commands one followed decision costs the outcome
 * follower (issue #72 item 1), from the governor event it reads to its last sample. On a private
 * redis-server, the outcome-governor and outcome-sweep gates alone (the sweep every OUTCOME_SWEEP_SEC,
 * default 3; no governor: its events are written here as it writes them), horizons shortened to OUTCOME_FOLLOW_HORIZONS (default 1s,2s,3s):
 *   1. idle for IDLE_SEC: the commands a second the runtime sends with nothing to do;
 *   2. DECISIONS permit events, PACE_MS apart, each followed to its last horizon.
 * INFO commandstats before and after each phase; the decisions' figure is the second phase's
 * count less the idle rate over its length, over DECISIONS, by command.
 */
import type { Redis } from 'ioredis';
import { governorOutcomes } from '../handlers/outcomes/governor-follow-up.js';
import { outcomeSweep } from '../handlers/outcomes/sample.js';
import { keys, streams } from '../schemas/keys.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { startRuntime, waitFor } from '../test/support/runtime.js';

const DECISIONS = Number(process.env.OUTCOME_FOLLOW_DECISIONS ?? 100);
const PACE_MS = Number(process.env.OUTCOME_FOLLOW_PACE_MS ?? 50);
const IDLE_SEC = Number(process.env.OUTCOME_FOLLOW_IDLE_SEC ?? 10);
const HORIZONS = process.env.OUTCOME_FOLLOW_HORIZONS ?? '1s,2s,3s';
const SWEEP_SEC = process.env.OUTCOME_SWEEP_SEC ?? '3';

async function commandStats(r: Redis): Promise<Map<string, number>> {
  const info = (await r.call('INFO', 'commandstats')) as string;
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

function minus(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, calls] of after) delta.set(name, calls - (before.get(name) ?? 0));
  return delta;
}

const sum = (calls: Map<string, number>) => [...calls.values()].reduce((a, b) => a + b, 0);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const redis = await startTestRedis();
const r = redis.client;
try {
  await r.hset(keys.marketState('ETHUSDT'), 'mark_price', '2000', 'timestamp', String(Date.now()));
  const runtime = await startRuntime(
    redis.url,
    { HANDLERS: 'outcome-governor,outcome-sweep', OUTCOME_HORIZONS: HORIZONS, OUTCOME_SWEEP_SEC: SWEEP_SEC },
    [governorOutcomes, outcomeSweep],
  );
  const horizons = HORIZONS.split(',').length;
  try {
    await sleep(2_000); // settled: groups created, the worker waiting
    const idleFrom = await commandStats(r);
    const idleStart = performance.now();
    await sleep(IDLE_SEC * 1000);
    const idle = minus(await commandStats(r), idleFrom);
    const idleSec = (performance.now() - idleStart) / 1000;

    const from = await commandStats(r);
    const started = performance.now();
    for (let i = 0; i < DECISIONS; i++) {
      const now = Date.now();
      await r.xadd(
        streams.governorEvents,
        '*',
        ...Object.entries({
          event: 'permit',
          plan_id: `bench-${i}`,
          symbol: 'ETHUSDT',
          action: 'OPEN_LONG',
          decision: 'EXECUTE',
          side: 'BUY',
          source_id: `bench-${i}`,
          timestamp: String(now / 1000),
          reason: 'permitted',
          kind: 'open',
          computed_qty: '0.1',
          computed_notional: '200',
          mark_price: '2000',
          mark_source: 'market_state',
          mark_at: String(now),
          mark_age_ms: '0',
        }).flat(),
      );
      await sleep(PACE_MS);
    }
    await waitFor(async () => (await r.xlen(streams.gatesOutcome)) >= DECISIONS * horizons || undefined, {
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    const span = minus(await commandStats(r), from);
    const sec = (performance.now() - started) / 1000;
    // The bench's own commands (XADD of the events, XLEN and INFO of the polls) are taken out with their counts.
    const own = new Map<string, number>([['xadd', DECISIONS]]);
    const rows = [...span]
      .map(([name, calls]) => {
        const idlePart = ((idle.get(name) ?? 0) / idleSec) * sec;
        const bench = own.get(name) ?? 0;
        return { name, perDecision: (calls - idlePart - bench) / DECISIONS };
      })
      .filter((row) => Math.abs(row.perDecision) >= 0.05)
      .sort((a, b) => b.perDecision - a.perDecision);
    const xlenInfo = (span.get('xlen') ?? 0) + (span.get('info') ?? 0);
    const total = rows.reduce((a, row) => a + row.perDecision, 0) - xlenInfo / DECISIONS;
    console.log(
      `idle: ${(sum(idle) / idleSec).toFixed(1)} commands/s; ${DECISIONS} followed decisions (${HORIZONS}) over ${sec.toFixed(1)} s: ${total.toFixed(1)} commands each, idle taken out`,
    );
    for (const row of rows) console.log(`  ${row.name.padEnd(14)} ${row.perDecision.toFixed(2)}`);
    console.log(`  (the bench's own xlen and info polls, ${(xlenInfo / DECISIONS).toFixed(2)} a decision, are left out of the total)`);
  } finally {
    await runtime.stop();
  }
} finally {
  await redis.stop();
}
