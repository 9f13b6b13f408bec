// The door of the engine's other drivers: the rehearsal (cli/rehearse: reads whose replies and clock
// the tape answers) and the shadow (app/shadow: live entries on Redis's clock, effects recorded and
// never committed). Apart from index.ts so that a CLI command other than these loads neither the
// engine nor prom-client.
export { decideBatch } from '../engine/decide.js';
export { Delivery } from '../engine/delivery.js';
export type { DeadLetterReason } from '../engine/dead-letter.js';
export { directReads, type DecisionEnv, type Reads } from '../engine/execute.js';
export { jobDoneKey } from '../engine/idempotency.js';
export { createRegistry, promMetricFactory } from '../engine/metrics.js';
export { RedisClock, redisTimeMs } from '../engine/redis-clock.js';
export { GateReader } from './gate-reader.js';
