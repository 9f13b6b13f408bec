import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyMetricCalls, applyMetricCallsCoalesced, deferMetrics, type DeferredMetricCalls } from '../../runtime/engine/metrics.js';

/** A metric that remembers its value per label set, like prom-client, with gauge and counter methods. */
function fakeMetric() {
  const values = new Map<string, number>();
  const key = (labels: unknown) => (typeof labels === 'object' && labels !== null ? JSON.stringify(labels) : '');
  return {
    values,
    inc(a?: unknown, b?: unknown) {
      const [labels, by] = typeof a === 'object' ? [a, b as number | undefined] : [undefined, a as number | undefined];
      values.set(key(labels), (values.get(key(labels)) ?? 0) + (by ?? 1));
    },
    set(a: unknown, b?: unknown) {
      const [labels, value] = typeof a === 'object' ? [a, b as number] : [undefined, a as number];
      values.set(key(labels), value);
    },
    observe(a: unknown, b?: unknown) {
      const [labels, value] = typeof a === 'object' ? [a, b as number] : [undefined, a as number];
      values.set(`obs:${key(labels)}`, (values.get(`obs:${key(labels)}`) ?? 0) + value);
    },
  };
}

const SHARED_LABELS = [{ state: 'COLD' }, { state: 'HOT' }];

describe('coalesced metric application', () => {
  it('ends in the same state as applying every call in order', () => {
    const call = fc.record({
      metric: fc.constantFrom('a', 'b'),
      method: fc.constantFrom('inc', 'set', 'observe'),
      labels: fc.oneof(
        fc.constant(undefined),
        fc.constantFrom(...SHARED_LABELS),
        fc.constantFrom('COLD', 'HOT').map((state) => ({ state })),
        // Two names, written in either order (a counter by symbol and reason, as the governor's).
        fc.constantFrom('A', 'B').map((symbol) => ({ symbol, reason: 'r' })),
        fc.constantFrom('A', 'B').map((symbol) => ({ reason: 'r', symbol })),
      ),
      value: fc.integer({ min: 0, max: 100 }),
      // An increment by one, as counters are mostly called.
      byOne: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(fc.array(call, { maxLength: 8 }), { maxLength: 6 }), (batch) => {
        const run = (apply: (lists: DeferredMetricCalls[]) => void) => {
          const metrics = { a: fakeMetric(), b: fakeMetric() };
          const lists = batch.map((calls) => {
            const queue: DeferredMetricCalls = [];
            const deferred = deferMetrics(metrics, queue);
            for (const c of calls) {
              const m = deferred[c.metric] as unknown as Record<string, (a?: unknown, b?: unknown) => void>;
              const value = c.method === 'inc' && c.byOne ? undefined : c.value;
              if (c.labels === undefined) m[c.method]!(value);
              else m[c.method]!(c.labels, value);
            }
            return queue;
          });
          apply(lists);
          return [[...metrics.a.values].sort(), [...metrics.b.values].sort()];
        };
        expect(run(applyMetricCallsCoalesced)).toEqual(run((lists) => lists.forEach(applyMetricCalls)));
      }),
      { numRuns: 500 },
    );
  });
});
