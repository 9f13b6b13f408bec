/**
 * What a flat P3.3 universe costs with no traffic (`npx tsx bench/universe-idle.ts`): every gate in
 * one process from the sources, 20 held positions, a private redis-server, and UNIVERSE symbols
 * (default 800: upstream's UNIVERSE_MAX, microservices/universe_service/main.py line 44) whose P3.3
 * hashes are written flat as P3.3 writes them (bench/universe.ts) and named in its universe key.
 * Once the position index lists them all and 12 s have passed, Redis's commands a second (INFO
 * commandstats) and this process's CPU over 30 s. Nothing writes meanwhile: the figure is what the
 * schedules (the position index refresh, the budget tick, the heat refresh) cost over a universe.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { allHandlers } from '../handlers/index.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { startRuntime } from '../test/support/runtime.js';
import { seedPortfolio } from './governor-plans.js';
import { untilIndexed, writeFlatUniverse } from './universe.js';

const UNIVERSE = Number(process.env.UNIVERSE ?? 800);
const SECONDS = 30;

const redis = await startTestRedis();
const r = redis.client;
await seedPortfolio(r, 20);
const flat = await writeFlatUniverse(r, UNIVERSE, Math.floor(Date.now() / 1000));
// The product's BLOCK_MS (the test runtime's 100 ms would add blocked reads a second).
const runtime = await startRuntime(redis.url, { BLOCK_MS: '1000' }, allHandlers);

/** Calls by command so far. */
async function calls(): Promise<Map<string, number>> {
  const info = (await r.call('INFO', 'commandstats')) as string;
  return new Map([...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
}

try {
  await untilIndexed(r, flat);
  // Past the first of every schedule's ticks and the key watch's first reads.
  await sleep(12_000);
  const before = await calls();
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  await sleep(SECONDS * 1000);
  const after = await calls();
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (performance.now() - startedAt) / 1000;
  // Less the one INFO of this reading.
  const rates = [...after]
    .map(([name, n]) => [name, (n - (before.get(name) ?? 0) - (name === 'info' ? 1 : 0)) / seconds] as const)
    .filter(([, rate]) => rate > 0)
    .sort((a, b) => b[1] - a[1]);
  const total = rates.reduce((sum, [, rate]) => sum + rate, 0);
  console.log(`a flat universe of ${UNIVERSE} symbols, idle: ${total.toFixed(1)} Redis commands/s`);
  console.log(`  by command: ${rates.map(([name, rate]) => `${name} ${rate.toFixed(1)}`).join(', ')}`);
  console.log(
    `  this process's CPU (the gates, tsx included): ${(((cpu.user + cpu.system) / 1e6 / seconds) * 100).toFixed(2)} % of a core`,
  );
} finally {
  await runtime.stop();
  await redis.stop();
}
