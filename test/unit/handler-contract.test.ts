import { describe, expect, expectTypeOf, it } from 'vitest';
import * as z from 'zod';
import { heatGate } from '../../handlers/heat-gate/index.js';
import type { HeatGateConfig } from '../../handlers/heat-gate/config.js';
import { defineHandler, type HandlerContext } from '../../runtime/contract/handler.js';
import type { CounterMetric, GaugeMetric } from '../../runtime/contract/metrics.js';
import type { HarvestProposal } from '../../schemas/harvest-proposal.js';

describe('handler contract (types)', () => {
  it('types the message from the input schema, and ctx from config, state and metrics', () => {
    type HandleArgs = Parameters<typeof heatGate.handle>;
    expectTypeOf<HandleArgs[0]>().toEqualTypeOf<HarvestProposal>();
    expectTypeOf<HandleArgs[1]['config']>().toEqualTypeOf<HeatGateConfig>();
    expectTypeOf<HandleArgs[1]['metrics']['processed']>().toEqualTypeOf<CounterMetric<never>>();
    expectTypeOf<HandleArgs[1]['metrics']['bucket']>().toEqualTypeOf<GaugeMetric<'state'>>();
  });

  it('requires labels exactly when a metric declares them', () => {
    const counter = {} as CounterMetric<'reason'>;
    expectTypeOf(counter.inc).toBeCallableWith({ reason: 'x' });
    expectTypeOf(counter.inc).toBeCallableWith({ reason: 'x' }, 2);
    // @ts-expect-error a labelled counter needs its labels
    expectTypeOf(counter.inc).toBeCallableWith(2);
    const plain = {} as CounterMetric;
    expectTypeOf(plain.inc).toBeCallableWith(2);
  });

  it('infers a declaration’s types without annotations', () => {
    const echo = defineHandler({
      name: 'echo',
      description: 'types only',
      trigger: { kind: 'stream', stream: () => 's', group: () => 'g' },
      input: z.object({ n: z.string().transform(Number) }),
      config: () => ({ out: 'o' }),
      metrics: (m) => ({ seen: m.counter({ name: 'seen_total', help: 'h' }) }),
      failure: { maxAttempts: 1, backoffMs: 0, policy: 'dead-letter' },
      async handle(message, ctx) {
        expectTypeOf(message.n).toBeNumber();
        expectTypeOf(ctx.config.out).toBeString();
        ctx.metrics.seen.inc();
      },
    });
    expect(echo.name).toBe('echo');
    expectTypeOf<Parameters<typeof echo.handle>[1]>().toExtend<HandlerContext<{ out: string }, unknown, { seen: CounterMetric }>>();
  });
});
