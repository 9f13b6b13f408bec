import { afterEach, describe, expect, it } from 'vitest';
import { tapeKey } from '../../app/tape/format.js';
import { redisTape } from '../../app/tape/store.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { streams } from '../../schemas/keys.js';
import { tapedRecords, writeCloseBacklog } from '../support/heat-backlog.js';
import { monitorLines } from '../support/monitor-lines.js';
import { usePrivateRedis } from '../support/redis-server.js';
import { metricSum, readStream, startRuntime } from '../support/runtime.js';
import { untilStreamLength } from '../support/until.js';

/**
 * The tape appends a write's entries without waiting between them (app/tape/store.ts), on the
 * connection the gates share. That connection is killed (CLIENT KILL of exactly the client
 * appending) at every third append, ten times, while the heat gate drains 4,000 proposals read 500
 * at a time: every proposal is decided once, each decision is on the tape or counted as not taped,
 * the tape writes on after the kills, and the stop's flush returns.
 */
/** Kills, at every third append from the second: about the first half of the drain's 55-65 appends. */
const KILLS = 10;

describe('the tape’s connection killed between its appends (chaos)', () => {
  const redis = usePrivateRedis();
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('decides every proposal once; each decision is taped or counted, and the tape writes on', async () => {
    const r = redis.client;
    const backlog = 4_000;
    await writeCloseBacklog(r, backlog, 'k-');

    let appends = 0;
    let kills = 0;
    const killer = r.duplicate();
    const tapeAppend = new RegExp(`^\\+[\\d.]+ \\[\\d+ ([^\\]]+)\\] "xadd" "${tapeKey('heat-gate')}"`, 'i');
    const monitor = await monitorLines(redis.url, (line) => {
      const append = tapeAppend.exec(line);
      if (append === null || ++appends % 3 !== 2 || kills === KILLS) return;
      kills++;
      void killer.call('CLIENT', 'KILL', 'ADDR', append[1]!).catch(() => undefined);
    });
    try {
      const env = { HANDLERS: 'heat-gate', BATCH_SIZE: '500' };
      runtime = await startRuntime(redis.url, env, undefined, { tape: redisTape(env) });
      await untilStreamLength(r, streams.harvestCalibrated, backlog, { timeoutMs: 90_000 });
      // A stop writes what waits and waits for the writes in hand: it returns.
      await runtime.stop();
    } finally {
      monitor.stop();
      killer.disconnect();
    }

    const decided = (await readStream(r, streams.harvestCalibrated)).map((e) => String(e.plan_id));
    expect(decided).toHaveLength(backlog);
    expect(new Set(decided).size).toBe(backlog);
    expect(kills).toBe(KILLS);

    const taped = (await tapedRecords(r, 'heat-gate')).map((t) => t.raw.plan_id!);
    const tapedOnce = [...new Set(taped)];
    const notTaped = await metricSum(runtime, 'quantum_gates_tape_write_failures_total', { handler: 'heat-gate' });
    // An append whose reply the kill lost may have landed (a record taped twice, or taped and
    // counted); none is lost without being counted.
    expect(tapedOnce.length + notTaped).toBeGreaterThanOrEqual(backlog);
    expect(tapedOnce.every((id) => decided.includes(id))).toBe(true);
    // The tape wrote on after the kills: the drain's last decision is on it.
    expect(tapedOnce).toContain(decided.at(-1));
    // In commit order, once each record's first copy is taken.
    expect(tapedOnce).toEqual(decided.filter((id) => tapedOnce.includes(id)));
  });
});
