import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { readinessGauge } from '../../app/readiness-gauge.js';
import type { ReadinessCauses } from '../../runtime/host/index.js';

describe('quantum_gates_ready', () => {
  it('is what /ready says at each scrape: 0 while a gate cannot make progress, 1 once it can', async () => {
    const registry = new Registry();
    let causes: ReadinessCauses = { starting: false, redis: undefined, gates: [] };
    readinessGauge(registry, () => causes);
    const ready = async () => (await registry.getSingleMetricAsString('quantum_gates_ready')).split('\n').at(-1);

    expect(await ready()).toBe('quantum_gates_ready 1');
    causes = {
      ...causes,
      gates: [
        {
          gate: 'governor',
          cause: 'writes to quantum:gates:positions:p33_watch refused (its messages held until it is written)',
          since: 1,
        },
      ],
    };
    expect(await ready()).toBe('quantum_gates_ready 0');
    causes = { starting: true, redis: undefined, gates: [] };
    expect(await ready()).toBe('quantum_gates_ready 0');
    causes = { starting: false, redis: undefined, gates: [] };
    expect(await ready()).toBe('quantum_gates_ready 1');
  });
});
