import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streams } from '../../schemas/keys.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { spawnRuntime, type RuntimeProcess } from './support/runtime-process.js';
import { duplicates, fieldOfAll, pendingCount, produce, proposal, seedPortfolio, waitFor } from './support/streams.js';
import { untilEachSeen, untilStreamLength } from '../support/until.js';

const GROUP = 'p26_heat_gate';
const TOTAL = 20_000;
const RSS_BOUND = 400 * 1024 * 1024;
const ONE_MB = 'x'.repeat(1024 * 1024);

/** Every tenth entry is malformed, in rotating ways; a 1 MB value in one of every 25 malformed. */
function malformed(k: number): Record<string, string | Buffer> {
  // A 1 MB symbol (a 1 MB plan_id is valid now: the original used it as written, any length).
  if (k % 25 === 0) return { plan_id: `big-${k}`, symbol: ONE_MB, action: 'FULL_CLOSE' };
  switch (k % 4) {
    case 0:
      return { symbol: 'ETHUSDT', action: 'FULL_CLOSE' }; // missing plan_id
    case 1:
      return { plan_id: `bad-${k}`, symbol: 'eth usdt', action: '42' }; // wrong types and shapes
    case 2:
      return { plan_id: `bad-${k}`, symbol: randomBytes(24), [randomBytes(8).toString('latin1')]: randomBytes(64) }; // binary junk, no action
    default:
      // An empty action (a 5,000-character reason was here: the gate now truncates free text
      // instead of refusing it, so that entry is valid).
      return { plan_id: `bad-${k}`, symbol: 'ETHUSDT', action: '', reason: 'r'.repeat(5000) };
  }
}

describe('a flood in which one message in ten is malformed', () => {
  let redis: TestRedis;
  let runtime: RuntimeProcess | undefined;

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await runtime?.kill();
    await redis?.stop();
  });

  it('processes every valid message, dead-letters every invalid one with its reason, and keeps memory bounded', async () => {
    const r = redis.client;
    await seedPortfolio(r);
    runtime = await spawnRuntime({ redisUrl: redis.url, handlers: 'heat-gate', consumerName: 'chaos-flood' });
    await waitFor(async () => (await runtime!.get('/ready')).status === 200, { what: 'ready' });
    const rssBefore = await runtime.metric('process_resident_memory_bytes');

    const entries: Record<string, string | Buffer>[] = [];
    const valid: string[] = [];
    for (let i = 0; i < TOTAL; i++) {
      if (i % 10 === 9) entries.push(malformed((i - 9) / 10));
      else {
        valid.push(`f-${i}`);
        entries.push(proposal(`f-${i}`));
      }
    }
    const ids = await produce(r, streams.harvestProposal, entries, 200);
    const invalidIds = ids.filter((_, i) => i % 10 === 9);

    await untilEachSeen(r, streams.harvestCalibrated, 'plan_id', valid, { what: 'every valid output', timeoutMs: 120_000 });
    await untilStreamLength(r, streams.deadLetter, invalidIds.length, { what: 'every dead letter', timeoutMs: 60_000 });
    // Each output and dead letter was committed with its message's ack.
    expect(await pendingCount(r, streams.harvestProposal, GROUP)).toBe(0);
    const rssAfter = await runtime.metric('process_resident_memory_bytes');

    const planIds = await fieldOfAll(r, streams.harvestCalibrated, 'plan_id');
    expect(duplicates(planIds)).toEqual([]);
    expect(new Set(planIds)).toEqual(new Set(valid));

    const letters = await r.xrange(streams.deadLetter, '-', '+');
    const field = (fields: string[], name: string) => fields[fields.indexOf(name) + 1];
    expect(letters.map(([, f]) => field(f, 'source_id')).sort()).toEqual([...invalidIds].sort());
    for (const [, fields] of letters) {
      expect(field(fields, 'reason')).toBe('invalid_input');
      expect((JSON.parse(field(fields, 'error')!) as unknown[]).length).toBeGreaterThan(0);
    }
    // The 1 MB values were cut in the dead-letter copy; the original stays in the source stream.
    const truncated = letters.filter(([, f]) => field(f, 'truncated') === '1').length;
    expect(truncated).toBe(Math.ceil(invalidIds.length / 25));
    expect((await runtime.get('/ready')).status).toBe(200);
    expect(rssAfter).toBeLessThan(RSS_BOUND);
    console.info(
      `[chaos] malformed flood: ${valid.length} valid processed, ${invalidIds.length} dead-lettered (${truncated} with 1 MB values, truncated), ` +
        `RSS ${(rssBefore / 2 ** 20).toFixed(0)} MB before, ${(rssAfter / 2 ** 20).toFixed(0)} MB after`,
    );
  });
});
