import type * as z from 'zod';
import { deadLetterFields, type DeadLetterDestination, type DeadLetterReason } from './dead-letter.js';
import { FALLBACK, UNUSABLE, type Delivery, type PreparedBatch } from './delivery.js';
import { applyPolicy, describeError, executeBatch, MessageContext, type ExecutionEnv } from './execute.js';
import type { AnyHandler } from '../contract/handler.js';

export interface PipelineEnv {
  readonly handler: AnyHandler;
  readonly execution: ExecutionEnv<unknown, object>;
  readonly maxDeliveries: number;
  readonly deadLetter: DeadLetterDestination & { readonly sourceStream: string; readonly group: string };
}

/**
 * Validates each delivery and runs the handler over the valid ones. Invalid input, an input
 * delivered too often, and a message whose failure policy says so become dead letters, written in
 * the commit that acknowledges the input.
 */
export async function prepareBatch(env: PipelineEnv, deliveries: readonly Delivery[], readAt: number): Promise<PreparedBatch> {
  const started = performance.now();
  const valid: Delivery[] = [];
  for (const delivery of deliveries) {
    if (delivery.data === null) continue; // skipped: acknowledged with nothing to do
    if (delivery.deliveries > env.maxDeliveries) {
      reject(env, delivery, 'too_many_deliveries', `delivered ${delivery.deliveries} times (MAX_DELIVERIES=${env.maxDeliveries})`);
      await runHook(env, delivery, 'rejected');
      continue;
    }
    if (await runHook(env, delivery, 'unusable')) {
      delivery.outcome = UNUSABLE;
      continue;
    }
    const parsed = env.handler.input.safeParse(delivery.data);
    if (!parsed.success) {
      reject(env, delivery, 'invalid_input', formatIssues(parsed.error));
      await runHook(env, delivery, 'rejected');
      continue;
    }
    delivery.valid = true;
    delivery.message = parsed.data;
    valid.push(delivery);
  }
  await executeBatch(env.handler, env.execution, valid, (d, reason, detail) => reject(env, d, reason, detail));
  return { deliveries, readAt, started };
}

/** Runs the handler again for (valid) deliveries whose commit guards conflicted. */
export async function rerun(env: PipelineEnv, deliveries: readonly Delivery[]): Promise<void> {
  await executeBatch(env.handler, env.execution, deliveries, (d, reason, detail) => reject(env, d, reason, detail));
}

/**
 * The handler's failure policy for deliveries whose writes Redis refuses the same way every time
 * (commit-loop.ts): its fallback's output, or a dead letter; a fallback whose own writes are
 * refused so is dead-lettered.
 */
export async function applyFailurePolicy(env: PipelineEnv, deliveries: readonly Delivery[], error: Error): Promise<void> {
  const rejectIt = (d: Delivery, reason: DeadLetterReason, detail: string) => reject(env, d, reason, detail);
  for (const delivery of deliveries)
    if (delivery.outcome === FALLBACK) rejectIt(delivery, 'fallback_failed', describeError(error));
    else await applyPolicy(env.handler, env.execution, delivery, { error, attempts: delivery.attempts }, rejectIt);
}

const HOOK_FAILED = {
  rejected: 'safe output of a rejected message failed; dead-lettered without it',
  unusable: 'unusable-entry check failed; the entry is validated as usual',
};

/**
 * `rejected` gives a dead letter the handler's safe output; `unusable` (true) acknowledges an entry a real producer
 * writes that the gate cannot use with what it recorded, no dead letter. A hook that throws is passed over.
 */
async function runHook(env: PipelineEnv, delivery: Delivery, hook: keyof typeof HOOK_FAILED): Promise<boolean> {
  const run = env.handler.failure[hook];
  if (run === undefined) return false;
  const ctx = new MessageContext(env.execution, undefined, delivery.meta);
  try {
    if (!(await run(delivery.meta.raw, ctx)) && hook === 'unusable') return false;
  } catch (error) {
    env.execution.logger(delivery.meta).warn({ err: error }, HOOK_FAILED[hook]);
    return false;
  }
  delivery.recorder = ctx;
  return true;
}

/** Makes `delivery` a dead letter: its record (with its attempts so far) replaces any output. */
function reject(env: PipelineEnv, delivery: Delivery, reason: DeadLetterReason, detail: string): void {
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
    at: env.execution.now(),
  });
  const { stream, maxLen, index } = env.deadLetter;
  delivery.recorder = undefined;
  delivery.extraEmits = [index === undefined ? { stream, fields, maxLen } : { stream, fields, maxLen, index }];
  delivery.outcome = { kind: 'dead-letter', reason };
}

export function formatIssues(error: z.ZodError): string {
  return JSON.stringify(error.issues.map((issue) => ({ path: issue.path.join('.'), code: issue.code, message: issue.message })));
}
