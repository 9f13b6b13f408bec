import type { AnyHandler, RedisReader } from '../../runtime/host/index.js';
import {
  createRegistry,
  directReads,
  promMetricFactory,
  type DeadLetterReason,
  type DecisionEnv,
  type Delivery,
} from '../../runtime/host/replay.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A shadowed gate's decision environment: live reads (through `reader`), its settings, metrics nobody scrapes, no logs. */
export function shadowDecisionEnv(
  handler: AnyHandler,
  config: unknown,
  reader: RedisReader,
  clock: { readonly now: () => number; readonly sync: () => Promise<number> },
): DecisionEnv {
  return {
    reads: directReads(reader, clock.now, clock.sync),
    config,
    // A registry of its own: the shadow's gate counters are nobody's to scrape as the incumbent's.
    metrics: handler.metrics(promMetricFactory(createRegistry()), config) as object,
    logger: () => quiet,
  };
}

/** decideBatch's reject, as the shadow keeps it: the delivery dead-lettered in its record, the detail kept for its own dead letters. */
export function shadowReject(details: Map<Delivery, string>): (delivery: Delivery, reason: DeadLetterReason, detail: string) => void {
  return (delivery, reason, detail) => {
    delivery.recorder = undefined;
    delivery.outcome = { kind: 'dead-letter', reason };
    details.set(delivery, detail);
  };
}
