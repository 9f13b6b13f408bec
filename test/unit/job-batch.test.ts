import { describe, expect, it } from 'vitest';
import { jobBatcher, type JobBatchEnv } from '../../runtime/sources/job-runner.js';
import { Delivery, HANDLED, LEFT_PENDING } from '../../runtime/engine/delivery.js';

const input = (id: string): Delivery => new Delivery({ id, raw: {}, producedAt: 0 }, {}, 1, undefined);

/** The deliveries handled as the pipeline would; `leftPending` names those it left pending. */
function handled(deliveries: readonly Delivery[], leftPending: ReadonlySet<string> = new Set()): void {
  for (const d of deliveries) d.outcome = leftPending.has(d.meta.id) ? LEFT_PENDING : HANDLED;
}

/** A pipeline that handles each batch it is given, recording it, and commits it with `commit`. */
function recordingEnv(options: { readonly maxBatch?: number; readonly commit?: () => Promise<boolean> } = {}) {
  const batches: string[][] = [];
  const env: JobBatchEnv = {
    run: (inputs) => {
      batches.push(inputs.map((i) => i.meta.id));
      handled(inputs);
      return options.commit?.() ?? Promise.resolve(true);
    },
    maxBatch: options.maxBatch ?? 10,
  };
  return { env, batches };
}

describe('jobBatcher', () => {
  it('jobs started in one turn are prepared and committed as one batch, each answered with its own delivery', async () => {
    const { env, batches } = recordingEnv();
    const run = jobBatcher(env);
    const results = await Promise.all(['a', 'b', 'c'].map((id) => run(input(id))));
    expect(batches).toEqual([['a', 'b', 'c']]);
    expect(results.map((r) => ('delivery' in r ? r.delivery.meta.id : r.error.message))).toEqual(['a', 'b', 'c']);
  });

  it('jobs arriving while a batch commits go in the next batch, one commit at a time, at most maxBatch each', async () => {
    let release!: () => void;
    let inFlight = 0;
    let maxInFlight = 0;
    const { env, batches } = recordingEnv({
      maxBatch: 2,
      commit: async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (batches.length === 1) await new Promise<void>((r) => (release = r));
        inFlight--;
        return true;
      },
    });
    const run = jobBatcher(env);
    const first = ['a', 'b', 'c'].map((id) => run(input(id)));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const later = ['d', 'e'].map((id) => run(input(id)));
    release();
    await Promise.all([...first, ...later]);
    expect(batches).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(maxInFlight).toBe(1);
  });

  it('a batch left incomplete fails every job of it (BullMQ runs them again; the done keys stop a second apply)', async () => {
    const run = jobBatcher(recordingEnv({ commit: () => Promise.resolve(false) }).env);
    const results = await Promise.all(['a', 'b'].map((id) => run(input(id))));
    expect(results.map((r) => ('error' in r ? r.error.message : 'committed'))).toEqual([
      'the job could not be committed; it is left for a retry',
      'the job could not be committed; it is left for a retry',
    ]);
  });

  it('a job the pipeline left pending (stopping) fails alone; a prepare or commit that throws fails the batch, and the next batch runs', async () => {
    let calls = 0;
    const run = jobBatcher({
      run: (inputs) => {
        calls++;
        if (calls === 2) return Promise.reject(new Error('redis down'));
        handled(inputs, new Set(['b']));
        return Promise.resolve(true);
      },
      maxBatch: 10,
    });
    const first = await Promise.all(['a', 'b'].map((id) => run(input(id))));
    expect(first.map((r) => ('error' in r ? r.error.message : 'committed'))).toEqual([
      'committed',
      'shutting down before the job finished',
    ]);
    const second = await run(input('c'));
    expect('error' in second && second.error.message).toBe('redis down');
    const third = await run(input('d'));
    expect('delivery' in third && third.delivery.meta.id).toBe('d');
  });
});
