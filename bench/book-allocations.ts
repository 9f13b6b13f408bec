/**
 * What a decision allocates at a large book: every gate in this process (the test runtime, no
 * tape) against a private redis-server with HELD held positions (default 1,000), 60 plans and 60
 * proposals one at a time while the tickers of every held symbol are rewritten every tenth of
 * them, under V8's sampling heap profiler with collected objects counted (what the garbage
 * collector has to go through, not what stays). Prints the MiB allocated and the functions that
 * allocated most. `npx tsx bench/book-allocations.ts` (HELD=100 for a smaller book).
 */
import { Session } from 'node:inspector/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { keys, streams } from '../schemas/keys.js';
import { tickerHash } from '../test/support/book-producers.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { startRuntime } from '../test/support/runtime.js';
import { planFields, seedPortfolio } from './governor-plans.js';

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

const held = Number(process.env.HELD ?? 1_000);
const MESSAGES = 60;
const redis = await startTestRedis();
try {
  await redis.client.call('CONFIG', 'SET', 'notify-keyspace-events', 'KA');
  await seedPortfolio(redis.client, held);
  const runtime = await startRuntime(redis.url, { LOG_LEVEL: 'error', GOV_MAX_PLAN_AGE_SEC: '0' });
  try {
    // Past the start: the key watch live and every held position applied.
    await sleep(8_000);
    const symbols = Array.from({ length: held }, (_, i) => `SYM${i}USDT`);
    const writeTickers = async () => {
      const pipeline = redis.client.pipeline();
      for (const symbol of symbols) pipeline.hset(keys.ticker(symbol), tickerHash(symbol, 10, Date.now()));
      await pipeline.exec();
    };
    const session = new Session();
    session.connect();
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    for (let i = 0; i < MESSAGES; i++) {
      if (i % 10 === 0) await writeTickers();
      await redis.client.xadd(streams.applyPlan, '*', ...planFields(i));
      await redis.client.xadd(streams.harvestProposal, '*', 'plan_id', `alloc-${i}`, 'symbol', symbols[i % held]!, 'action', 'FULL_CLOSE');
      await sleep(100);
    }
    await sleep(1_000);
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
    session.disconnect();
    const bySite = new Map<string, number>();
    let total = 0;
    const walk = (node: ProfileNode, parent = '') => {
      const { functionName, url, lineNumber } = node.callFrame;
      const site = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}${url === '' ? '' : `:${lineNumber + 1}`}`;
      const named = url === '' && process.env.PARENTS ? `${site} <- ${parent}` : site;
      bySite.set(named, (bySite.get(named) ?? 0) + node.selfSize);
      total += node.selfSize;
      node.children.forEach((child) => walk(child, site));
    };
    walk(profile.head);
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    console.log(`${held} held: ${mib(total)} MiB allocated over ${MESSAGES} plans and ${MESSAGES} proposals (and what they set off)`);
    for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 20)))
      console.log(`${mib(bytes).padStart(8)} MiB  ${site}`);
  } finally {
    await runtime.stop();
  }
} finally {
  await redis.stop();
}
