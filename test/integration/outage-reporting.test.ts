import { afterEach, describe, expect, it } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { createLogger } from '../../app/logging.js';
import type { Runtime } from '../../runtime/host/runtime.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { startRuntime, waitFor } from '../support/runtime.js';

const JOB_GATES = ['risk-budget', 'position-index', 'governor-cooldown'];

/** A Redis outage as the operator sees it: what the BullMQ gates report, and how much the log says. */
describe('a Redis outage under the BullMQ gates', () => {
  let redis: TestRedis | undefined;
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    await redis?.stop();
  });

  it('reports them not consuming (status and quantum_gates_consumer_up) and logs each repeated error once per window', async () => {
    redis = await startTestRedis();
    const lines: string[] = [];
    // The repeat window's clock is read once for every warning or error offered to the log,
    // written or held back: counting its reads counts the lines offered.
    let offered = 0;
    // Resolved by the logger's own clock reads once `count` lines were offered and not written.
    let heldBack = { count: Infinity, reached: () => undefined as void };
    const check = () => {
      if (offered - lines.length >= heldBack.count) heldBack.reached();
    };
    const untilHeldBack = (count: number) =>
      new Promise<void>((resolve) => {
        heldBack = { count, reached: resolve };
        check();
      });
    const logger = createLogger(
      'warn',
      {},
      {
        output: { write: (l) => lines.push(l) },
        format: 'json',
        repeatWindowMs: 60_000,
        now: () => {
          offered += 1;
          // After the call that read the clock has written its line or held it back.
          queueMicrotask(check);
          return Date.now();
        },
      },
    );
    runtime = await startRuntime(redis.url, { HANDLERS: JOB_GATES.join(','), BUDGET_COMPUTE_INTERVAL_SEC: '1' }, allHandlers, { logger });
    const consumers = () => runtime!.services.consumers.filter((c) => JOB_GATES.includes(c.handler));
    const gauge = async () =>
      ((await runtime!.metrics.consumerUp.get()).values ?? [])
        .filter((v) => JOB_GATES.includes(String(v.labels.handler)))
        .map((v) => v.value);
    await waitFor(() => consumers().every((c) => c.consuming) || undefined, { what: 'the job gates consuming' });
    expect(await gauge()).toEqual([1, 1, 1]);

    await redis.kill();
    await waitFor(() => consumers().every((c) => !c.consuming) || undefined, { what: 'the job gates to report not consuming' });
    await waitFor(async () => (await gauge()).every((v) => v === 0) || undefined, { what: 'quantum_gates_consumer_up 0' });
    expect(runtime.readiness().ready).toBe(false);
    // The outage goes on until the gates have offered the log 50 lines more than it wrote (BullMQ's
    // reconnect loop alone offers ~13 a second for each worker).
    await untilHeldBack(50); // 50 repeated lines offered to the log
    const during = lines.map((l) => JSON.parse(l) as { msg: string; handler?: string; err?: string });
    // Before: BullMQ's reconnect loop wrote "worker error" ~13 times a second for each worker.
    const keys = new Set(during.map((d) => `${d.msg}|${d.handler ?? ''}|${d.err ?? ''}`));
    expect(during.length, JSON.stringify(during.slice(0, 20))).toBe(keys.size);

    await redis.start();
    await waitFor(() => consumers().every((c) => c.consuming) || undefined, { what: 'the job gates consuming again', timeoutMs: 30_000 });
    await waitFor(async () => (await gauge()).every((v) => v === 1) || undefined, { what: 'quantum_gates_consumer_up 1 again' });
  }, 60_000);

  it('an outage with every gate hosted adds no listener per gate to the shared connections: no MaxListenersExceededWarning', async () => {
    redis = await startTestRedis();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      runtime = await startRuntime(redis.url, {}, allHandlers, { logger: createLogger('silent', {}) });
      await redis.kill();
      await waitFor(() => !runtime!.readiness().ready || undefined, { what: 'the outage seen' });
      // Every gate's next batch waits for the connection meanwhile (several of its ready polls).
      await new Promise((resolvePromise) => setTimeout(resolvePromise, 2000));
      await redis.start();
      await waitFor(() => runtime!.readiness().ready || undefined, { what: 'ready again', timeoutMs: 30_000 });
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.includes('MaxListenersExceeded'))).toEqual([]);
  }, 60_000);
});
