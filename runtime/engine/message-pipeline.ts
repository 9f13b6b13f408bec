import { deadLetterFields, type DeadLetterDestination, type DeadLetterReason } from './dead-letter.js';
import type { Delivery, PreparedBatch } from './delivery.js';
import { decideBatch } from './decide.js';
import { executeBatch, type DecisionEnv, type Pace } from './execute.js';
import type { AnyHandler } from '../contract/handler.js';

export interface PipelineEnv {
  readonly handler: AnyHandler;
  readonly decision: DecisionEnv;
  /** How the runtime waits between a batch's tries. */
  readonly pace: Pace;
  readonly maxDeliveries: number;
  readonly deadLetter: DeadLetterDestination & { readonly sourceStream: string; readonly group: string };
}

/**
 * Decides the batch (decide.ts: the path the rehearsal and the unit tests take too). Invalid
 * input, an input delivered too often, and a message whose failure policy says so become dead
 * letters, written in the commit that acknowledges the input.
 */
export async function prepareBatch(env: PipelineEnv, deliveries: readonly Delivery[], readAt: number): Promise<PreparedBatch> {
  const started = performance.now();
  const later = await decideBatch(env.handler, env.decision, deliveries, rejectInto(env), env);
  return { deliveries, later, readAt, started };
}

/** Runs the handler again for (valid) deliveries whose commit guards conflicted, or left for a later run; resolves with those left again. */
export function rerun(env: PipelineEnv, deliveries: readonly Delivery[]): Promise<readonly Delivery[]> {
  return executeBatch(env.handler, env.decision, deliveries, rejectInto(env), env.pace);
}

/** Makes a delivery a dead letter: its record (with its attempts so far) replaces any output. */
const rejectInto = (env: PipelineEnv) => (delivery: Delivery, reason: DeadLetterReason, detail: string) => {
  const { meta } = delivery;
  const fields = deadLetterFields({
    handler: env.handler.name,
    sourceStream: env.deadLetter.sourceStream,
    sourceId: meta.id,
    group: env.deadLetter.group,
    reason,
    detail,
    attempts: delivery.attempts,
    raw: meta.raw,
    at: env.decision.reads.now(),
  });
  const { stream, maxLen, index } = env.deadLetter;
  delivery.recorder = undefined;
  delivery.extraEmits = [index === undefined ? { stream, fields, maxLen } : { stream, fields, maxLen, index }];
  delivery.outcome = { kind: 'dead-letter', reason };
};
