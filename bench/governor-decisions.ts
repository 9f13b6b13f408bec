/**
 * The governor's decisions on the bench's plan mix, from one bundle: the decision and reason of
 * every plan and a digest of the list, so two commits' bundles can be shown to decide alike.
 *
 *   npx tsx bench/governor-decisions.ts <bundle dir> [plans] [K=V,K=V] [symbols]
 *
 * <bundle dir>: `node scripts/bundle.mjs <dir>` of a checkout (bench/results/dist after a bench
 * run). Plans: as bench/run.ts's governor section writes them (every other one a close), over
 * `symbols` symbols (200), the first 20 priced by a position snapshot; K=V: the gates' settings.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { streams } from '../schemas/keys.js';
import { seedPortfolio, writeGovernorPlans } from './governor-plans.js';
import { freePort, startTestRedis } from '../test/support/redis-server.js';

const [bundle, planArg, envArg, symbolArg] = process.argv.slice(2);
if (bundle === undefined) {
  console.error('usage: npx tsx bench/governor-decisions.ts <bundle dir> [plans] [K=V,K=V] [symbols]');
  process.exit(2);
}
const plans = Number(planArg ?? 6000);
const symbols = Number(symbolArg ?? 200);
const settings = Object.fromEntries(
  (envArg ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => kv.split('=') as [string, string]),
);

const redis = await startTestRedis();
const client = new Redis(redis.url);
try {
  // The bench's book: 20 positions, the first 20 symbols priced.
  await seedPortfolio(client, 20);
  await writeGovernorPlans(client, plans, symbols);
  const port = await freePort();
  const gates = spawn(process.execPath, [`${bundle}/app/main.js`], {
    env: {
      PATH: process.env.PATH,
      REDIS_URL: redis.url,
      PORT: String(port),
      HANDLERS: 'governor,governor-cooldown',
      LOG_LEVEL: 'warn',
      STREAM_MAXLEN: '0',
      GOV_MAX_PLAN_AGE_SEC: '0',
      ...settings,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  while ((await client.xlen(streams.governorEvents)) < plans) await new Promise((r) => setTimeout(r, 200));
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  gates.kill('SIGTERM');
  const tally = new Map<string, number>();
  const digest = createHash('sha256');
  for (const [, fields] of await client.xrange(streams.governorEvents, '-', '+')) {
    const event = new Map<string, string>();
    for (let i = 0; i < fields.length; i += 2) event.set(fields[i]!, fields[i + 1]!);
    const decision = `${event.get('event')} ${event.get('reason')}`;
    tally.set(decision, (tally.get(decision) ?? 0) + 1);
    digest.update(`${event.get('plan_id')} ${decision}\n`);
  }
  const conflicts = metrics.split('\n').find((l) => l.startsWith('quantum_gates_commit_conflicts_total{handler="governor"'));
  console.log(
    `${bundle}: ${plans} plans; ${[...tally]
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; digest ${digest.digest('hex').slice(0, 12)}; decided again after a fired guard: ${conflicts?.split(' ').pop() ?? 0}`,
  );
} finally {
  await client.quit();
  await redis.stop();
}
