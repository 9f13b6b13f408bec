import { compareStreamIds } from '../../schemas/fields.js';
import type { AnyHandler, HandlerContext, IdempotencyKey, MessageMeta } from '../contract/handler.js';
import type { ReadCommand, RedisReader } from '../contract/redis-reader.js';

/** Far beyond any redelivery of a job (stalled-job recovery, a lost completion), and as long as BullMQ keeps it. */
export const JOB_DONE_TTL_SEC = 86_400;

/** Where a completed job is recorded, in its own commit and guarded, so no job applies twice. */
export const jobDoneKey = (queue: string, jobId: string): string => `quantum:gates:job-done:${queue}:${jobId}`;

type Ctx = HandlerContext<unknown, unknown, object>;

function keysOf(handler: AnyHandler, message: unknown, meta: MessageMeta, doneKey: string | undefined): IdempotencyKey[] {
  const declared = handler.idempotency?.keys?.(message, meta) ?? [];
  return doneKey === undefined ? [...declared] : [...declared, doneKey];
}

/** The reads anyDone makes of a message's keys, to be sent ahead of it (OwnKeys.reads). */
export function idempotencyReads(handler: AnyHandler, message: unknown, meta: MessageMeta, doneKey: string | undefined): ReadCommand[] {
  return keysOf(handler, message, meta, doneKey).map((k): ReadCommand => (typeof k === 'string' ? ['EXISTS', k] : ['GET', k.key]));
}

/** Each key read alone: a message's keys may lie in different cluster slots. A failed read throws. */
async function anyDone(redis: RedisReader, idempotencyKeys: readonly IdempotencyKey[]): Promise<boolean> {
  const replies = await Promise.all(idempotencyKeys.map((k) => (typeof k === 'string' ? redis.exists(k) : redis.get(k.key))));
  return idempotencyKeys.some((k, i) => keySaysDone(k, replies[i]));
}

/**
 * Guards the keys in the message's commit (a newest-wins key that went stale acknowledges it with
 * onDuplicate's metric updates), and records a job as done.
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
      ctx.require(k, { is: 'absent' });
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
  if (doneKey !== undefined) ctx.put(doneKey, String(ctx.now()), { ttlSec: JOB_DONE_TTL_SEC });
}

/** An existence key exists (of any type), or a newest-wins key holds a later id. */
function keySaysDone(key: IdempotencyKey, reply: unknown): boolean {
  if (typeof key === 'string') return Number(reply) > 0;
  // An empty value is no id: nothing applied yet.
  return typeof reply === 'string' && reply !== '' && compareStreamIds(reply, key.id) > 0;
}

/**
 * Reads the message's keys (a job's done key last) when its turn comes: a duplicate gets
 * onDuplicate, anything else `handle` with its keys guarded in the commit.
 */
export async function handleOnce(handler: AnyHandler, message: unknown, ctx: Ctx, doneKey: string | undefined): Promise<void> {
  const idempotencyKeys = keysOf(handler, message, ctx.meta, doneKey);
  if (idempotencyKeys.length === 0) return handler.handle(message, ctx);
  if (await anyDone(ctx.redis, idempotencyKeys)) return handler.idempotency?.onDuplicate(message, ctx);
  guard(handler, message, ctx, idempotencyKeys, doneKey);
  return handler.handle(message, ctx);
}

/** The same guards for a fallback: it must not land on a message done meanwhile, and it completes a job. */
export function guardFallback(handler: AnyHandler, message: unknown, ctx: Ctx, doneKey: string | undefined): void {
  guard(handler, message, ctx, keysOf(handler, message, ctx.meta, doneKey), doneKey);
}
