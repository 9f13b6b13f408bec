// The rehearsal's door (cli/rehearse): a gate's ctx and metrics, to re-decide taped decisions. Apart
// from index.ts so that a CLI command other than rehearse loads neither the engine nor prom-client.
export { MessageContext } from '../engine/execute.js';
export { createRegistry, promMetricFactory } from '../engine/metrics.js';
