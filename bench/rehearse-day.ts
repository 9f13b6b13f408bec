/**
 * `npx tsx bench/rehearse-day.ts`: the tape's size and a rehearsal's time for a day of the default
 * pipeline's traffic (0.3 proposals/s at the heat gate, 0.6 plans/s at the governor: 25,920 and
 * 51,840 decisions). Every gate runs with the tape on against a private redis-server while the
 * upstream producers of the newest era (test/pipeline/producers/) write a few rounds of their
 * traffic; those taped decisions, copied to a day's count (each copy of a batch a batch of its own), are the
 * tape a day leaves, whose memory Redis reports; then `rehearse` re-decides all of it with this
 * checkout's gates.
 *
 * REHEARSE_ROUNDS=n (default 3) rounds of producer traffic to sample.
 */
import type { Redis } from 'ioredis';
import { allHandlers } from '../handlers/index.js';
import { redisTape } from '../app/tape/store.js';
import { deflateRawSync } from 'node:zlib';
import { TapeDecoder, RECORD_FIELD, tapeKey, type TapeRecord } from '../app/tape/format.js';
import { rehearse } from '../cli/rehearse/rehearse.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { createTestRuntime, waitFor } from '../test/support/runtime.js';
import { replayKernel, replayPlans, writeProducerState } from '../test/pipeline/traffic.js';

const DAY_SEC = 86_400;
const RATES: Readonly<Record<string, number>> = { 'heat-gate': 0.3, governor: 0.6 };
const rounds = Number(process.env.REHEARSE_ROUNDS ?? 3);

async function taped(r: Redis, gate: string): Promise<{ record: TapeRecord; bytes: number }[]> {
  // A commit's records share its entry: each is counted its share of the entry's bytes.
  const decoder = new TapeDecoder();
  return (await r.xrangeBuffer(tapeKey(gate), '-', '+')).flatMap(([, fields]) => {
    const records = decoder.decode(fields);
    return records.map((record) => ({ record, bytes: fields[1]!.length / records.length }));
  });
}

const live = await startTestRedis();
const day = await startTestRedis();
try {
  const env = { P26_MODE: 'enforce', P26_APPLY_LAYER_ERA: 'newest' };
  await writeProducerState(live.client, 'newest', Date.now());
  const runtime = await createTestRuntime(live.url, env, allHandlers, { tape: redisTape(env) });
  await runtime.start();
  let plans = 0;
  for (let round = 0; round < rounds; round++) {
    await replayKernel(live.client, 'newest');
    const replayed = await replayPlans(live.client, 'newest');
    plans += replayed.closePlans.size + replayed.openPlans.size;
    await waitFor(async () => (await taped(live.client, 'governor')).length >= plans || undefined, { timeoutMs: 30_000 });
  }
  await runtime.stop();

  console.log(`tape per decision (${rounds} rounds of the newest era's producers):`);
  let dayBytes = 0;
  for (const [gate, rate] of Object.entries(RATES)) {
    const sample = (await taped(live.client, gate)).filter((t) => t.record.outcome === 'handled');
    const perDay = Math.round(rate * DAY_SEC);
    const mean = sample.reduce((sum, t) => sum + t.bytes, 0) / sample.length;
    // A day's tape: the sample's decisions again and again, each copy of a batch a batch of its own,
    // a commit (an entry) each, as at the default pipeline's rates.
    for (let i = 0; i < perDay; i += 1000) {
      const pipeline = day.client.pipeline();
      for (let j = i; j < Math.min(perDay, i + 1000); j++) {
        const { record } = sample[j % sample.length]!;
        const copy = record.batch === undefined ? record : { ...record, batch: `${record.batch}.${Math.floor(j / sample.length)}` };
        pipeline.xadd(tapeKey(gate), '*', RECORD_FIELD, deflateRawSync(JSON.stringify([copy]), { level: 6 }));
      }
      await pipeline.exec();
    }
    const memory = Number(await day.client.memory('USAGE', tapeKey(gate)));
    dayBytes += memory;
    console.log(
      `  ${gate}: ${sample.length} sampled, deflated JSON ${Math.round(mean)} B a decision; in Redis ${Math.round(memory / perDay)} B a decision, ` +
        `${(memory / 2 ** 20).toFixed(1)} MiB for a day (${perDay} decisions at ${rate}/s)`,
    );
  }
  console.log(`  a day of the default pipeline: ${(dayBytes / 2 ** 20).toFixed(1)} MiB of Redis memory`);

  const started = performance.now();
  const report = await rehearse(day.client, { name: 'this checkout', handlers: allHandlers }, env, {}, Date.now());
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `rehearsal of a day: ${report.decisions} decisions in ${seconds.toFixed(1)} s (${Math.round(report.decisions / seconds)}/s): ` +
      `${report.same} the same, ${report.differ} different, ${report.unanswerable} unanswerable`,
  );
} finally {
  await live.stop();
  await day.stop();
}
