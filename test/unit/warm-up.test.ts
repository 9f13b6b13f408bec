import { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { Registry, register as globalRegistry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { allHandlers } from '../../handlers/index.js';
import { heatGate } from '../../handlers/heat-gate/index.js';
import { positionSnapshot } from '../../handlers/position-snapshot.js';
import { createLogger } from '../../runtime/engine/logger.js';
import { promMetricFactory, runtimeMetrics } from '../../runtime/engine/metrics.js';
import { parseRuntimeConfig } from '../../runtime/host/config.js';
import { DryRedis } from '../../runtime/sources/dry-redis.js';
import { warmUp, type WarmUpGate } from '../../runtime/sources/warm-up.js';
import type { AnyHandler } from '../../runtime/contract/handler.js';
import { streams } from '../../schemas/keys.js';
import { runHandler } from '../support/fake-ctx.js';

const NOW = 1_800_000_000_000;

/** The gates as createRuntime hosts them: each with its parsed config and its live metrics in `live`. */
function hostedGates(live: Registry) {
  const factory = promMetricFactory(live);
  runtimeMetrics(live, { version: 'test', commit: 'test' });
  return allHandlers.map((handler) => {
    const config = handler.config({}) as unknown;
    handler.metrics(factory, config);
    return { handler, config };
  });
}

describe('start-up warm-up', () => {
  afterEach(() => vi.restoreAllMocks());

  it('runs every sampled stream gate through the whole path, and leaves the metrics, Redis and the log as they were', async () => {
    const live = new Registry();
    const gates = hostedGates(live);
    // A live client, as the runtime holds them: nothing may be sent on it, and no socket opened anywhere.
    const client = new Redis({ lazyConnect: true });
    const sent = vi.spyOn(Redis.prototype, 'sendCommand');
    const connects = vi.spyOn(Socket.prototype, 'connect');
    const lines: string[] = [];
    const logger = createLogger('trace', 'quantum-gates', {}, { format: 'json', output: { write: (line) => lines.push(line) } });
    const liveBefore = await live.metrics();
    const globalBefore = await globalRegistry.metrics();

    const report = await warmUp({ gates, config: parseRuntimeConfig({ BATCH_SIZE: '50' }), logger, now: () => NOW, budgetMs: 0 });

    expect(report.gates).toEqual(['position-snapshot', 'heat-gate']);
    // One batch each at least, every message committed (built, encoded, answered applied) as a real batch would be.
    expect(report.messages).toBeGreaterThanOrEqual(100);
    expect(report.committed).toBe(report.messages);
    expect(report.stopped).toEqual([]);
    expect(await live.metrics()).toBe(liveBefore);
    expect(await globalRegistry.metrics()).toBe(globalBefore);
    expect(sent).not.toHaveBeenCalled();
    expect(connects).not.toHaveBeenCalled();
    expect(client.status).toBe('wait');
    expect(lines).toEqual([]);
    client.disconnect();
  });

  it('runs no gate that declares no sample, and nothing at all for gates fed by jobs', async () => {
    const gates = hostedGates(new Registry()).filter((g) => g.handler.warmUp === undefined);
    const report = await warmUp({ gates, config: parseRuntimeConfig({}), logger: createLogger('silent'), now: () => NOW, budgetMs: 0 });
    expect(report).toMatchObject({ gates: [], messages: 0, batches: 0 });
  });

  it('stops a gate whose sample breaks it, and says why, without stopping the others', async () => {
    const broken = {
      ...positionSnapshot,
      name: 'broken',
      warmUp: () => ({
        entry: (): never => {
          throw new Error('no sample');
        },
      }),
    };
    const gates: WarmUpGate[] = [
      { handler: broken as unknown as AnyHandler, config: broken.config({}) },
      { handler: heatGate, config: heatGate.config({}) },
    ];
    const report = await warmUp({
      gates,
      config: parseRuntimeConfig({ BATCH_SIZE: '10' }),
      logger: createLogger('silent'),
      now: () => NOW,
      budgetMs: 0,
    });
    expect(report.stopped).toEqual(['broken: no sample']);
    expect(report.committed).toBe(10);
  });

  it("the heat gate's sample takes the path real traffic takes: a trusted heat on its book, closes downgraded with their marks", async () => {
    const sample = heatGate.warmUp!(heatGate.config({}), NOW);
    const decisions = [];
    for (let n = 0; n < 8; n++) {
      const run = await runHandler(heatGate, { ...sample.entry(n) }, { redis: sample.redis!, now: NOW });
      decisions.push(run.emitted(streams.heatDecision)[0]!);
      expect(run.emitted(streams.harvestCalibrated)[0]).not.toHaveProperty('fail_closed_cause');
    }
    expect(decisions.filter((d) => d.heat_action === 'DOWNGRADE_FULL_TO_PARTIAL').length).toBeGreaterThanOrEqual(2);
    for (const d of decisions.filter((d) => d.heat_action === 'DOWNGRADE_FULL_TO_PARTIAL'))
      expect(JSON.parse(d.debug_json!)).toHaveProperty('mark');
  });

  it("a dry client builds and encodes every command it is sent, sends none, and answers a batch's commit as applied", async () => {
    const dry = new DryRedis({ strings: { k: 'v' } });
    expect(await dry.get('k')).toBe('v');
    const { Command } = await import('ioredis');
    await expect(dry.sendCommand(new Command('evalsha', ['sha', '0']))).resolves.toEqual([[], [], [], [], [], [], 0]);
    await expect(dry.sendCommand(new Command('eval_ro', ['return 1', '0']))).rejects.toThrow(/a warm-up sends nothing \(eval_ro\)/);
    expect(dry.built).toBe(2);
    expect(dry.bytes).toBeGreaterThan(20);
  });
});
