import { compareStreamIds } from '../../schemas/fields.js';
import type { AnyHandler, HandlerContext, IdempotencyKey, MessageMeta } from '../contract/handler.js';
import type { RedisReader } from '../contract/redis-reader.js';

/**
 * A completed job is remembered this long: far beyond any redelivery of it (BullMQ's stalled-job
 * recovery, a retry after a commit whose completion was lost), and as long as BullMQ keeps it.
 */
export const JOB_DONE_TTL_SEC = 86_400;

/**
 * Where the runtime records a completed job (handled or by its fallback), written in the job's
 * own commit and guarded, so no job applies twice. Ours, and the runtime's own: no gate names it.
 */
export function jobDoneKey(queue: string, jobId: string): string {
  return `quantum:gates:job-done:${queue}:${jobId}`;
}

// Handlers are erased to AnyHandler here, as everywhere in the runtime: ctx is the one the runtime built.
type Ctx = HandlerContext<unknown, unknown, object>;

/** The message's keys: those the gate declares, then the job's own (jobs only). */
function keysOf(handler: AnyHandler, message: unknown, meta: MessageMeta, doneKey: string | undefined): IdempotencyKey[] {
  const declared = handler.idempotency?.keys?.(message, meta) ?? [];
  return doneKey === undefined ? [...declared] : [...declared, doneKey];
}

/** Whether any key says the message was done: an existence key exists, or a newest-wins key holds a later id. */
async function anyDone(redis: RedisReader, idempotencyKeys: readonly IdempotencyKey[]): Promise<boolean> {
  const done = await Promise.all(
    idempotencyKeys.map(async (k) => {
      // EXISTS: a key of any type counts (a hash or set left there says "done" as well as a string).
      // One key per command: a message's keys may lie in different cluster slots.
      if (typeof k === 'string') return (await redis.exists(k)) > 0;
      const applied = await redis.get(k.key);
      // An empty value is no id: nothing applied yet.
      return applied !== null && applied !== '' && compareStreamIds(applied, k.id) > 0;
    }),
  );
  return done.includes(true);
}

/**
 * Guards the keys in the message's commit, and records a job as done with its effects. An
 * existence key must still be absent (else the message runs again and finds the duplicate); a
 * newest-wins key must hold no later id (else the message is acknowledged without its effects
 * and onDuplicate's metric updates count).
 */
function guard(
  handler: AnyHandler,
  message: unknown,
  ctx: Ctx,
  idempotencyKeys: readonly IdempotencyKey[],
  doneKey: string | undefined,
): void {
  for (const k of idempotencyKeys) {
    if (typeof k === 'string') {
      ctx.requireAbsent(k);
      continue;
    }
    ctx.onlyIfNewer(k.key, k.id, {
      onSkip: () => {
        const done = handler.idempotency?.onDuplicate(message, ctx);
        // Only its synchronous metric updates count at commit; a late rejection has nothing to undo.
        if (done instanceof Promise) done.catch(() => undefined);
      },
    });
  }
  if (doneKey !== undefined) ctx.setKey(doneKey, String(ctx.now()), { ttlSec: JOB_DONE_TTL_SEC });
}

/**
 * A message's duplicate check: its keys (a job's done key last), the done key a job's commit
 * writes, and whether Redis says the message was done (none for a message without keys).
 */
export interface DuplicateCheck {
  readonly keys: readonly IdempotencyKey[];
  readonly doneKey: string | undefined;
  readonly done: Promise<boolean> | undefined;
}

const NO_CHECK: DuplicateCheck = { keys: [], doneKey: undefined, done: undefined };

/**
 * Starts a message's duplicate check. Its keys come from the message and its meta alone, so the
 * runtime starts every check of a batch while the batch state loads: the check adds no round
 * trip of its own to the batch.
 */
export function startDuplicateCheck(
  handler: AnyHandler,
  message: unknown,
  meta: MessageMeta,
  redis: RedisReader,
  doneKey: string | undefined,
): DuplicateCheck {
  if (handler.idempotency?.keys === undefined && doneKey === undefined) return NO_CHECK;
  const idempotencyKeys = keysOf(handler, message, meta, doneKey);
  if (idempotencyKeys.length === 0) return NO_CHECK;
  const done = anyDone(redis, idempotencyKeys);
  // Read by handleOnce; a batch whose state failed to load never asks, and must not leave it unhandled.
  done.catch(() => undefined);
  return { keys: idempotencyKeys, doneKey, done };
}

/**
 * Runs one message as its declaration says: a duplicate gets onDuplicate, anything else `handle`
 * with its keys guarded in the commit. Synchronous for a gate without keys (the heat gate), so
 * its messages cost no promise each.
 */
export function handleOnce(handler: AnyHandler, message: unknown, ctx: Ctx, check: DuplicateCheck): void | Promise<void> {
  if (check.done === undefined) return handler.handle(message, ctx);
  return check.done.then((done) => {
    if (done) return handler.idempotency?.onDuplicate(message, ctx);
    guard(handler, message, ctx, check.keys, check.doneKey);
    return handler.handle(message, ctx);
  });
}

/**
 * The same guards for a failure policy's output (its fallback): a fallback must not land on a
 * message another replica has done meanwhile, and a job's fallback completes it like `handle`.
 */
export function guardFallback(handler: AnyHandler, message: unknown, ctx: Ctx, doneKey: string | undefined): void {
  guard(handler, message, ctx, keysOf(handler, message, ctx.meta, doneKey), doneKey);
}
