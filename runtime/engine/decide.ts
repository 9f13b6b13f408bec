import type * as z from 'zod';
import type { AnyHandler } from '../contract/handler.js';
import { UNUSABLE, type Delivery } from './delivery.js';
import { executeBatch, MessageContext, type DecisionEnv, type Pace, type Reject } from './execute.js';

/**
 * Decides a gate's batch: the one path every decision takes, whoever drives it. The runtime
 * (message-pipeline.ts, over Redis and its clock), the rehearsal (cli/rehearse, over the tape's
 * replies and readings) and the handler unit tests (test/support/fake-ctx.ts, over an in-memory
 * reader) all call it, so none of them keeps a copy of the order that can drift:
 *
 * 1. an entry deleted while pending (`data` null) is skipped; one delivered more than
 *    `maxDeliveries` times is rejected `too_many_deliveries` with the gate's `rejected` output;
 * 2. the gate's `unusable` check, then its schema (`invalid_input`, with `rejected`);
 * 3. the batch state, loaded once for the valid ones (executeBatch);
 * 4. each message's idempotency keys, read through its ctx (a duplicate gets `onDuplicate`);
 * 5. `handle`, retried on reloaded state, then the failure policy; a delivery given a failure
 *    already (`failedBefore`: a rehearsal of a taped fallback, a unit test of one) goes straight to it.
 *
 * What it reads and when it reads the clock goes through `env.reads` (the tape's, when one records
 * or answers them); how the live runtime waits between tries is its `pace` (none elsewhere). What
 * it decides is left on each delivery: its outcome and its recorder (the ctx whose effects, guards,
 * metric updates and jobs commit). It resolves with the deliveries of the batch left for a later
 * run (a shared run's end, execute.ts), to decide once those before them have committed.
 */
export async function decideBatch(
  handler: AnyHandler,
  env: DecisionEnv,
  deliveries: readonly Delivery[],
  reject: Reject,
  options: { readonly maxDeliveries?: number; readonly pace?: Pace | undefined } = {},
): Promise<readonly Delivery[]> {
  const { maxDeliveries = Number.POSITIVE_INFINITY, pace } = options;
  const valid: Delivery[] = [];
  for (const delivery of deliveries) {
    if (delivery.data === null) continue; // skipped: acknowledged with nothing to do
    if (delivery.deliveries > maxDeliveries) {
      reject(delivery, 'too_many_deliveries', `delivered ${delivery.deliveries} times (MAX_DELIVERIES=${maxDeliveries})`);
      await runHook(handler, env, delivery, 'rejected');
      continue;
    }
    if (await runHook(handler, env, delivery, 'unusable')) {
      delivery.outcome = UNUSABLE;
      continue;
    }
    const parsed = handler.input.safeParse(delivery.data);
    if (!parsed.success) {
      reject(delivery, 'invalid_input', formatIssues(parsed.error));
      await runHook(handler, env, delivery, 'rejected');
      continue;
    }
    delivery.valid = true;
    delivery.message = parsed.data;
    valid.push(delivery);
  }
  return executeBatch(handler, env, valid, reject, pace);
}

const HOOK_FAILED = {
  rejected: 'safe output of a rejected message failed; dead-lettered without it',
  unusable: 'unusable-entry check failed; the entry is validated as usual',
};

/**
 * `rejected` gives a dead letter the handler's safe output; `unusable` (true) acknowledges an entry a real producer
 * writes that the gate cannot use with what it recorded, no dead letter. A hook that throws is passed over.
 */
async function runHook(handler: AnyHandler, env: DecisionEnv, delivery: Delivery, hook: keyof typeof HOOK_FAILED): Promise<boolean> {
  const run = handler.failure[hook];
  if (run === undefined) return false;
  const ctx = new MessageContext(env, undefined, delivery.meta);
  try {
    if (!(await run(delivery.meta.raw, ctx)) && hook === 'unusable') return false;
  } catch (error) {
    env.logger(delivery.meta).warn({ err: error }, HOOK_FAILED[hook]);
    return false;
  }
  delivery.recorder = ctx;
  return true;
}

export function formatIssues(error: z.ZodError): string {
  return JSON.stringify(error.issues.map((issue) => ({ path: issue.path.join('.'), code: issue.code, message: issue.message })));
}
