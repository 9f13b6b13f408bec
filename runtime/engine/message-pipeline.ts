import type * as z from 'zod';
import type { CommitItem } from './commit.js';
import { deadLetterFields, type DeadLetterDestination } from './dead-letter.js';
import { EffectRecorder } from './effects.js';
import { MessageContext } from './message-context.js';
import { executeBatch, type DeadLetterReason, type ExecutionEnv, type Outcome, type ValidMessage } from './execute.js';
import type { AnyHandler, MessageMeta } from '../contract/handler.js';

/** What a committed item counts as in quantum_gates_messages_total. */
export type OutcomeLabel =
  { kind: 'handled' | 'fallback' | 'skipped' | 'unusable' | 'left-pending' } | { kind: 'dead-letter'; reason: DeadLetterReason };

export type PreparedItem = CommitItem & { outcome: OutcomeLabel };

/** A batch after validation and the handler: exactly one commit item per input. */
export interface PreparedBatch {
  readonly items: PreparedItem[];
  readonly valid: ValidMessage[];
  /** Where each valid message's item sits in `items`. */
  readonly validSlots: number[];
  /** When the inputs became ours (a batch held too long may have been reclaimed). */
  readonly readAt: number;
  /** performance.now() when handling began, for the batch duration histogram. */
  readonly started: number;
}

/** One input as it arrived: its meta, and how often it was delivered (stream entries). */
export interface RawInput {
  readonly meta: MessageMeta;
  /** Null for a stream entry deleted while pending: acknowledged with nothing to do. */
  readonly data: unknown;
  readonly deliveries: number;
}

export interface PipelineEnv {
  readonly handler: AnyHandler;
  readonly execution: ExecutionEnv<unknown, object>;
  readonly maxDeliveries: number;
  /** Where invalid or failed messages go, with the reason (see deadLetterDestination). */
  readonly deadLetter: DeadLetterDestination & { readonly sourceStream: string; readonly group: string };
  readonly now: () => number;
}

/**
 * Validates each input and runs the handler over the valid ones. Invalid input, an input
 * delivered too often, and a message whose failure policy says so become dead-letter items: the
 * dead letter is written in the same commit that acknowledges the input, so it can never be lost.
 */
export async function prepareBatch(
  env: PipelineEnv,
  inputs: readonly RawInput[],
  readAt: number,
  state?: Promise<unknown>,
): Promise<PreparedBatch> {
  const { handler } = env;
  const started = performance.now();
  const items: PreparedItem[] = [];
  const valid: ValidMessage[] = [];
  const validSlots: number[] = [];
  for (const input of inputs) {
    const { meta } = input;
    if (input.data === null) {
      items.push({ entryId: entryIdOf(env, meta), outcome: { kind: 'skipped' } });
      continue;
    }
    if (input.deliveries > env.maxDeliveries) {
      items.push(
        await withSafeOutput(
          env,
          meta,
          deadLetterItem(env, meta, 'too_many_deliveries', `delivered ${input.deliveries} times (MAX_DELIVERIES=${env.maxDeliveries})`, 0),
        ),
      );
      continue;
    }
    const unusable = await unusableItem(env, meta);
    if (unusable !== undefined) {
      items.push(unusable);
      continue;
    }
    const parsed = handler.input.safeParse(input.data);
    if (!parsed.success) {
      items.push(await withSafeOutput(env, meta, deadLetterItem(env, meta, 'invalid_input', formatIssues(parsed.error), 0)));
      continue;
    }
    validSlots.push(items.length);
    valid.push({ meta, message: parsed.data });
    items.push({ entryId: entryIdOf(env, meta), outcome: { kind: 'skipped' } });
  }
  const outcomes = await executeBatch(handler, env.execution, valid, state);
  outcomes.forEach((outcome, i) => {
    items[validSlots[i]!] = itemFor(env, valid[i]!, outcome);
  });
  return { items, valid, validSlots, readAt, started };
}

/** Runs the handler again for the messages whose commit guards conflicted, in place. */
export async function rerun(env: PipelineEnv, batch: PreparedBatch, validIndexes: readonly number[]): Promise<void> {
  const outcomes = await executeBatch(
    env.handler,
    env.execution,
    validIndexes.map((i) => batch.valid[i]!),
  );
  validIndexes.forEach((validIndex, k) => {
    batch.items[batch.validSlots[validIndex]!] = itemFor(env, batch.valid[validIndex]!, outcomes[k]!);
  });
}

function itemFor(env: PipelineEnv, message: ValidMessage, outcome: Outcome): PreparedItem {
  switch (outcome.kind) {
    case 'commit':
      return {
        entryId: entryIdOf(env, message.meta),
        recorder: outcome.recorder,
        outcome: { kind: outcome.via === 'handled' ? 'handled' : 'fallback' },
      };
    case 'dead-letter':
      return deadLetterItem(env, message.meta, outcome.reason, outcome.detail, outcome.attempts);
    case 'leave-pending':
      return { outcome: { kind: 'left-pending' } };
  }
}

/** A dead letter with the handler's safe output for it (failure.rejected), committed together. */
async function withSafeOutput(env: PipelineEnv, meta: MessageMeta, item: PreparedItem): Promise<PreparedItem> {
  const hook = env.handler.failure.rejected;
  if (hook === undefined) return item;
  const recorder = new EffectRecorder();
  try {
    await hook(meta.raw, new MessageContext(env.execution, recorder, undefined, meta));
  } catch (error) {
    env.execution.logger(meta).warn({ err: error }, 'safe output of a rejected message failed; dead-lettered without it');
    return item;
  }
  return { ...item, recorder };
}

/**
 * An entry the handler says a real producer writes and it cannot use (failure.unusable):
 * acknowledged with what the hook recorded, no dead letter. A hook that throws leaves the entry
 * to the schema, as if it had no such hook.
 */
async function unusableItem(env: PipelineEnv, meta: MessageMeta): Promise<PreparedItem | undefined> {
  const hook = env.handler.failure.unusable;
  if (hook === undefined) return undefined;
  const recorder = new EffectRecorder();
  try {
    if (!(await hook(meta.raw, new MessageContext(env.execution, recorder, undefined, meta)))) return undefined;
  } catch (error) {
    env.execution.logger(meta).warn({ err: error }, 'unusable-entry check failed; the entry is validated as usual');
    return undefined;
  }
  return { entryId: entryIdOf(env, meta), recorder, outcome: { kind: 'unusable' } };
}

/** Jobs have no stream entry to acknowledge: BullMQ completes them once the commit succeeded. */
function entryIdOf(env: PipelineEnv, meta: MessageMeta): string | undefined {
  return env.deadLetter.group === '' ? undefined : meta.id;
}

function deadLetterItem(env: PipelineEnv, meta: MessageMeta, reason: DeadLetterReason, detail: string, attempts: number): PreparedItem {
  const fields = deadLetterFields({
    handler: env.handler.name,
    sourceStream: env.deadLetter.sourceStream,
    sourceId: meta.id,
    group: env.deadLetter.group,
    reason,
    detail,
    attempts,
    raw: meta.raw,
    at: env.now(),
  });
  return {
    entryId: entryIdOf(env, meta),
    extraEmits: [
      {
        stream: env.deadLetter.stream,
        fields,
        maxLen: env.deadLetter.maxLen,
        ...(env.deadLetter.index === undefined ? {} : { index: env.deadLetter.index }),
      },
    ],
    outcome: { kind: 'dead-letter', reason },
  };
}

export function formatIssues(error: z.ZodError): string {
  return JSON.stringify(error.issues.map((issue) => ({ path: issue.path.join('.'), code: issue.code, message: issue.message })));
}
