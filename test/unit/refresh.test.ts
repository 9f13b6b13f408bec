import { describe, expect, it } from 'vitest';
import { defineHandler, type Logger } from '../../runtime/contract/index.js';
import { periodicRefresh } from '../../runtime/engine/refresh.js';
import type { RedisReader } from '../../runtime/contract/redis-reader.js';
import * as z from 'zod';
import { ManualClock } from '../support/clock.js';

const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A gate whose state load is controlled by the test: each load waits for `loads[i]` to be resolved. */
function gate(load: () => Promise<number>, applied: number[], firsts: boolean[] = []) {
  return defineHandler({
    name: 'refresh-probe',
    description: 'test',
    trigger: { kind: 'stream', stream: () => 's', group: () => 'g' },
    input: z.object({}),
    config: () => ({ everyMs: 3_600_000 }),
    metrics: () => ({}),
    batch: {
      loadState: () => load(),
      refresh: {
        everyMs: (c) => c.everyMs,
        apply: (state, _metrics, _config, run) => {
          applied.push(state);
          firsts.push(run.first);
        },
      },
    },
    failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter' },
    handle: async () => undefined,
  });
}

describe('periodicRefresh (batch.refresh)', () => {
  it('loads the state and applies it at start, without waiting for a message or the first interval', async () => {
    const applied: number[] = [];
    const handler = gate(() => Promise.resolve(0.29), applied);
    const refresh = periodicRefresh(
      [{ handler, config: { everyMs: 3_600_000 }, metrics: {} }],
      {} as RedisReader,
      silent,
      new ManualClock(0),
    );
    refresh.start();
    await refresh.stop();
    expect(applied).toEqual([0.29]);
  });

  it('logs a failed load and applies nothing; stop waits for a run under way', async () => {
    const warnings: object[] = [];
    const logger: Logger = { ...silent, warn: (obj) => void warnings.push(obj) };
    const applied: number[] = [];
    let release = () => undefined as void;
    const handler = gate(
      () =>
        new Promise<number>((_, reject) => {
          release = () => reject(new Error('redis down'));
        }),
      applied,
    );
    const refresh = periodicRefresh(
      [{ handler, config: { everyMs: 3_600_000 }, metrics: {} }],
      {} as RedisReader,
      logger,
      new ManualClock(0),
    );
    refresh.start();
    let stopped = false;
    const stopping = refresh.stop().then(() => (stopped = true));
    await Promise.resolve();
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(applied).toEqual([]);
    expect(warnings).toHaveLength(1);
  });

  it('tells the first run since start from the later ones, a failed first load not counting as one', async () => {
    const applied: number[] = [];
    const firsts: boolean[] = [];
    const loads = [Promise.reject(new Error('redis down')), Promise.resolve(1), Promise.resolve(2)];
    const handler = gate(() => loads.shift()!, applied, firsts);
    const clock = new ManualClock(0);
    const refresh = periodicRefresh([{ handler, config: { everyMs: 1000 }, metrics: {} }], {} as RedisReader, silent, clock);
    refresh.start();
    await clock.advance(2500);
    await refresh.stop();
    expect(applied).toEqual([1, 2]);
    expect(firsts).toEqual([true, false]);
  });
});
