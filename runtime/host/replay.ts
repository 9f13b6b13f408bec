// The rehearsal's door (cli/rehearse): the engine's one decision function, with what it is given (a
// delivery, reads whose replies and clock the tape answers) and a gate's metrics. Apart from
// index.ts so that a CLI command other than rehearse loads neither the engine nor prom-client.
export { decideBatch } from '../engine/decide.js';
export { Delivery } from '../engine/delivery.js';
export type { DeadLetterReason } from '../engine/dead-letter.js';
export type { DecisionEnv, Reads } from '../engine/execute.js';
export { jobDoneKey } from '../engine/idempotency.js';
export { createRegistry, promMetricFactory } from '../engine/metrics.js';
// The shadow's door (app/shadow): it decides live entries as the runtime does, on Redis's clock,
// with its effects recorded and never committed.
export { directReads } from '../engine/execute.js';
export { RedisClock, redisTimeMs } from '../engine/redis-clock.js';
export { GateReader } from './gate-reader.js';
