/**
 * `npx tsx bench/tape-size.ts`: what a decision costs Redis, by book size (issue #60 item 7). For a
 * book of 10 and of 300 held symbols (TAPE_SIZE_BOOKS), every gate runs with the tape on against a
 * private redis-server, decides PLANS governor plans (bench/governor-plans.ts: half closes, half
 * opens) and as many heat gate proposals, and the bench reports:
 *   - each gate's tape record: its JSON, its share of its deflated entry, and the memory Redis gives
 *     the tape a decision (MEMORY USAGE ... SAMPLES 0 over the stream, divided by its decisions);
 *   - the gates' other keys (streams they emit, hashes, permits, blocks, jobs: everything but the
 *     tapes), grown per decision decided, by key family.
 * The figures size TAPE_MAXLEN and `maxmemory` (docs/operations.md, "Rehearse before you release").
 */
import type { Redis } from 'ioredis';
import { allHandlers } from '../handlers/index.js';
import { redisTape } from '../app/tape/store.js';
import { TapeDecoder, tapeKey } from '../app/tape/format.js';
import { streams } from '../schemas/keys.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { createTestRuntime, waitFor } from '../test/support/runtime.js';
import { planFields, seedPortfolio } from './governor-plans.js';

const PLANS = Number(process.env.TAPE_SIZE_PLANS ?? 200);
const PACED = Number(process.env.TAPE_SIZE_PACED ?? 20);
const books = (process.env.TAPE_SIZE_BOOKS ?? '10,300').split(',').map(Number);
const TAPE_PREFIX = tapeKey('');

/** Every key's memory (exact for streams: SAMPLES 0), by key. */
async function memoryByKey(r: Redis): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, found] = await r.scan(cursor, 'COUNT', 1000);
    for (const key of found) sizes.set(key, Number(await r.memory('USAGE', key, 'SAMPLES', 0)));
    cursor = next;
  } while (cursor !== '0');
  return sizes;
}

/** A key's family: its name with the parts that vary per decision (ids, symbols, numbers) starred. */
const family = (key: string) =>
  key
    .replace(/SYM\d+USDT/g, '{symbol}')
    .replace(/(gov|hp|hp-paced)-\d+/g, '{plan_id}')
    .replace(/\d+-\d+/g, '{id}')
    .replace(/:\d+$/g, ':{n}')
    .replace(/cooldown-[^:]+/g, '{job}');

async function tapedRecords(r: Redis, gate: string): Promise<{ json: number; deflated: number }[]> {
  const decoder = new TapeDecoder();
  return (await r.xrangeBuffer(tapeKey(gate), '-', '+')).flatMap(([, fields]) => {
    const records = decoder.decode(fields);
    return records.map((record) => ({ json: Buffer.byteLength(JSON.stringify(record)), deflated: fields[1]!.length / records.length }));
  });
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Upstream's rates (docs/performance.md): 0.3 proposals/s, 0.6 plans/s. */
const RATES = { governor: 0.6, 'heat-gate': 0.3 } as const;
const DAY_SEC = 86_400;
/** The keys the governor's decisions write; the others follow the heat gate's. */
const GOVERNOR_FAMILY = /governor|permit|apply\.plan|exec|budget\.violation|gates-outcome/;
/** Streams capped otherwise than STREAM_MAXLEN (100,000): budget.violation at 1,000, BullMQ's events at 10,000. */
const STREAM_CAPS: readonly [RegExp, number][] = [
  [/budget\.violation/, 1000],
  [/^bull:.*:events$/, 10_000],
];

const redis = await startTestRedis();
try {
  const r = redis.client;
  for (const held of books) {
    await r.flushall();
    await seedPortfolio(r, held);
    const env = { GOV_MAX_PLAN_AGE_SEC: '0', P26_MODE: 'enforce', P26_APPLY_LAYER_ERA: 'newest' };
    const runtime = await createTestRuntime(redis.url, env, allHandlers, { tape: redisTape(env) });
    await runtime.start();
    await waitFor(async () => (await tapedRecords(r, 'position-snapshot')).length >= held || undefined, {
      timeoutMs: 60_000,
      what: `the book of ${held} symbols applied`,
    });
    const before = await memoryByKey(r);
    const pipeline = r.pipeline();
    for (let n = 0; n < PLANS; n++) {
      pipeline.xadd(streams.applyPlan, '*', ...planFields(n, held));
      pipeline.xadd(streams.harvestProposal, '*', 'plan_id', `hp-${n}`, 'symbol', `SYM${n % held}USDT`, 'action', 'FULL_CLOSE_PROPOSED');
    }
    await pipeline.exec();
    for (const gate of ['governor', 'heat-gate'])
      await waitFor(async () => (await tapedRecords(r, gate)).length >= PLANS || undefined, {
        timeoutMs: 300_000,
        what: `${gate} taped ${PLANS} decisions`,
      });
    // The followers (heat bridge, outcomes) decide what the two gates emitted: give them a moment to.
    await waitFor(async () => (await tapedRecords(r, 'heat-bridge')).length >= PLANS || undefined, { timeoutMs: 60_000 }).catch(() => 0);
    // At upstream's rates a decision is a commit of its own (a backlog's batches share an entry):
    // PACED proposals, then PACED plans, one at a time, each gate's tape measured before and after.
    const pacedWrites: Record<'heat-gate' | 'governor', (n: number) => Promise<unknown>> = {
      'heat-gate': (n) =>
        r.xadd(streams.harvestProposal, '*', 'plan_id', `hp-paced-${n}`, 'symbol', `SYM${n % held}USDT`, 'action', 'FULL_CLOSE_PROPOSED'),
      governor: (n) => r.xadd(streams.applyPlan, '*', ...planFields(PLANS + n, held)),
    };
    const pacedSizes: { gate: string; entries: number; deflated: number; grown: number }[] = [];
    for (const [gate, write] of Object.entries(pacedWrites)) {
      const memoryBefore = Number(await r.memory('USAGE', tapeKey(gate), 'SAMPLES', 0));
      const entriesBefore = await r.xlen(tapeKey(gate));
      const paced: number[] = [];
      for (let n = 0; n < PACED; n++) {
        const decided = (await tapedRecords(r, gate)).length;
        await write(n);
        await waitFor(async () => (await tapedRecords(r, gate)).length > decided || undefined, { timeoutMs: 30_000 });
        const [entry] = await r.xrevrangeBuffer(tapeKey(gate), '+', '-', 'COUNT', 1);
        paced.push(entry![1][1]!.length);
      }
      pacedSizes.push({
        gate,
        entries: (await r.xlen(tapeKey(gate))) - entriesBefore,
        deflated: paced.reduce((a, b) => a + b, 0) / paced.length,
        grown: Number(await r.memory('USAGE', tapeKey(gate), 'SAMPLES', 0)) - memoryBefore,
      });
    }
    await runtime.stop();
    const after = await memoryByKey(r);

    console.log(`\nA book of ${held} held symbols, ${PLANS} governor plans and ${PLANS} heat gate proposals:`);
    console.log('  the tape, a decision (JSON; deflated, its share of its entry; Redis memory):');
    for (const key of [...after.keys()].filter((k) => k.startsWith(TAPE_PREFIX)).sort()) {
      const gate = key.slice(TAPE_PREFIX.length);
      const records = await tapedRecords(r, gate);
      const decided = records.length;
      const json = records.reduce((sum, t) => sum + t.json, 0) / records.length;
      const deflated = records.reduce((sum, t) => sum + t.deflated, 0) / records.length;
      console.log(
        `    ${gate}: ${decided} decisions, ${kb(json)} JSON, ${kb(deflated)} deflated, ${kb(after.get(key)! / decided)} in Redis`,
      );
    }
    for (const { gate, entries, deflated, grown } of pacedSizes)
      console.log(
        `  the ${gate} at upstream's rates (a decision a commit, ${entries} paced): ${kb(deflated)} deflated, ${kb(grown / entries)} in Redis a decision`,
      );
    const grown = new Map<string, { bytes: number; sample: string }>();
    for (const [key, bytes] of after)
      if (!key.startsWith(TAPE_PREFIX) && !key.startsWith('quantum:gates:tape-settings:')) {
        const delta = bytes - (before.get(key) ?? 0);
        const seen = grown.get(family(key));
        if (delta > 0) grown.set(family(key), { bytes: (seen?.bytes ?? 0) + delta, sample: key });
      }
    const total = [...grown.values()].reduce((a, b) => a + b.bytes, 0);
    console.log(`  the gates' other keys grew ${kb(total / (2 * PLANS))} a decision (of the two gates' ${2 * PLANS}); kept a day:`);
    // What a day keeps of each family, at upstream's rates and at 100×: a stream its entries up to
    // its cap; a key per decision with a TTL the decisions of its TTL (up to a day; `steady`: of its
    // whole TTL, the follow-ups' week); a key per symbol or per tick (a schedule's, not the
    // traffic's) as measured.
    const kept = { 1: 0, 100: 0, steady1: 0, steady100: 0 };
    for (const [name, { bytes, sample }] of [...grown].sort((a, b) => b[1].bytes - a[1].bytes)) {
      const perDecision = bytes / PLANS; // of its gate's PLANS decisions
      const rate = GOVERNOR_FAMILY.test(name) ? RATES.governor : RATES['heat-gate'];
      const type = await r.type(sample);
      const ttl = Number(await r.ttl(sample));
      const perDecisionKey = !/\{symbol\}|tick|cursor|pending|:id$|completed|delayed|portfolio/.test(name);
      const day = (scale: 1 | 100, span = DAY_SEC) =>
        type === 'stream'
          ? perDecision * Math.min(rate * scale * DAY_SEC, STREAM_CAPS.find(([re]) => re.test(name))?.[1] ?? 100_000)
          : ttl > 0 && perDecisionKey
            ? perDecision * rate * scale * Math.min(ttl, span)
            : bytes;
      kept[1] += day(1);
      kept[100] += day(100);
      kept.steady1 += day(1, Infinity);
      kept.steady100 += day(100, Infinity);
      if (day(100, Infinity) < 2 ** 20) continue; // under a MiB even at 100×: summed, not listed
      console.log(
        `    ${name} (${type}${ttl > 0 ? `, TTL ${ttl} s` : ''}): ${kb(perDecision)} a decision; a day ${mib(day(1))}, at 100× ${mib(day(100))}` +
          (ttl > DAY_SEC && perDecisionKey ? ` (its whole TTL: ${mib(day(1, Infinity))}, at 100× ${mib(day(100, Infinity))})` : ''),
      );
    }
    console.log(
      `  the gates' own keys: a day ${mib(kept[1])} at upstream's rates, ${mib(kept[100])} at 100×; ` +
        `with every key kept its whole TTL ${mib(kept.steady1)} and ${mib(kept.steady100)}`,
    );
  }
} finally {
  await redis.stop();
}
