import { Gauge, type Registry } from 'prom-client';
import type { ReadinessCauses } from '../runtime/host/index.js';

/**
 * What /ready says, as a series an alert can hold on: 0 while Redis or a hosted gate cannot make
 * progress (a key Redis refuses on every try, a stall, an evicting Redis), read at each scrape.
 */
export function readinessGauge(registry: Registry, causes: () => ReadinessCauses): void {
  new Gauge({
    name: 'quantum_gates_ready',
    help: '1 while /ready answers 200; 0 while Redis or a hosted gate cannot make progress (GET /ready names the cause)',
    registers: [registry],
    collect() {
      const { starting, redis, gates } = causes();
      this.set(starting || redis !== undefined || gates.length > 0 ? 0 : 1);
    },
  });
}
