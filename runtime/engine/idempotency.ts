import { compareStreamIds } from '../../schemas/fields.js';
import type { AnyHandler, HandlerContext, IdempotencyKey, MessageMeta } from '../contract/handler.js';
import type { RedisReader } from '../contract/redis-reader.js';
import { lua } from './lua.js';

/** Far beyond any redelivery of a job (stalled-job recovery, a lost completion), and as long as BullMQ keeps it. */
export const JOB_DONE_TTL_SEC = 86_400;

/** Where a completed job is recorded, in its own commit and guarded, so no job applies twice. */
export function jobDoneKey(queue: string, jobId: string): string {
  return `quantum:gates:job-done:${queue}:${jobId}`;
}

type Ctx = HandlerContext<unknown, unknown, object>;

function keysOf(handler: AnyHandler, message: unknown, meta: MessageMeta, doneKey: string | undefined): IdempotencyKey[] {
  const declared = handler.idempotency?.keys?.(message, meta) ?? [];
  return doneKey === undefined ? [...declared] : [...declared, doneKey];
}

/** Each key read alone: a message's keys may lie in different cluster slots. */
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

/** A message's keys (a job's done key last), and whether Redis says it was done (undefined without keys). */
export interface DuplicateCheck {
  readonly keys: readonly IdempotencyKey[];
  readonly doneKey: string | undefined;
  readonly done: Promise<boolean> | undefined;
}

export const NO_CHECK: DuplicateCheck = Object.freeze({ keys: [], doneKey: undefined, done: undefined });

export interface CheckedMessage {
  readonly message: unknown;
  readonly meta: MessageMeta;
  readonly doneKey: string | undefined;
}

/**
 * Starts a batch's duplicate checks while its state loads, so they add no round trip. The keys go
 * as one read-only script, not a command each (a command's client-side cost was most of the
 * governor's check: docs/performance.md); where it cannot run (Cluster, no EVAL_RO), one by one.
 */
export function startDuplicateChecks(
  handler: AnyHandler,
  messages: readonly CheckedMessage[],
  redis: RedisReader,
): readonly DuplicateCheck[] {
  const keysOfMessages = messages.map((m) => keysOf(handler, m.message, m.meta, m.doneKey));
  const keyed = keysOfMessages.filter((k) => k.length > 0).length;
  const together = keyed >= 2 && (redis as { readonly isCluster?: boolean }).isCluster !== true;
  // Undefined when the script need not or could not run: each message then reads its keys alone.
  const replies = together ? readTogether(redis, keysOfMessages.flat()) : Promise.resolve(undefined);
  let from = 0;
  return messages.map((m, i) => {
    const idempotencyKeys = keysOfMessages[i]!;
    if (idempotencyKeys.length === 0) return NO_CHECK;
    const at = from;
    from += idempotencyKeys.length;
    const done = replies.then((all) =>
      // Every reply is read: a failed read fails the check even beside a key that says done.
      all === undefined ? anyDone(redis, idempotencyKeys) : idempotencyKeys.map((k, j) => keySaysDone(k, all[at + j])).includes(true),
    );
    // Read by handleOnce; a batch whose state failed to load never asks, and must not leave it unhandled.
    done.catch(() => undefined);
    return { keys: idempotencyKeys, doneKey: m.doneKey, done };
  });
}

/** EXISTS ('e') or GET ('g') per key, each under pcall so a failed read fails only its own message's check. */
const READ_DUPLICATE_KEYS = lua('read-duplicate-keys');

function readTogether(redis: RedisReader, keys: readonly IdempotencyKey[]): Promise<unknown[] | undefined> {
  const names = keys.map((k) => (typeof k === 'string' ? k : k.key));
  const kinds = keys.map((k) => (typeof k === 'string' ? 'e' : 'g'));
  return redis.eval_ro(READ_DUPLICATE_KEYS, names.length, ...names, ...kinds).then(
    (reply) => reply as unknown[],
    () => undefined,
  );
}

/** An existence key exists (of any type), or a newest-wins key holds a later id; a failed read throws. */
function keySaysDone(key: IdempotencyKey, reply: unknown): boolean {
  if (reply instanceof Error) throw reply;
  if (typeof key === 'string') return Number(reply) > 0;
  // An empty value is no id: nothing applied yet.
  return typeof reply === 'string' && reply !== '' && compareStreamIds(reply, key.id) > 0;
}

/** A duplicate gets onDuplicate, anything else `handle` with its keys guarded in the commit. */
export async function handleOnce(handler: AnyHandler, message: unknown, ctx: Ctx, check: DuplicateCheck): Promise<void> {
  if (check.done !== undefined && (await check.done)) return handler.idempotency?.onDuplicate(message, ctx);
  if (check.done !== undefined) guard(handler, message, ctx, check.keys, check.doneKey);
  return handler.handle(message, ctx);
}

/** The same guards for a fallback: it must not land on a message done meanwhile, and it completes a job. */
export function guardFallback(handler: AnyHandler, message: unknown, ctx: Ctx, doneKey: string | undefined): void {
  guard(handler, message, ctx, keysOf(handler, message, ctx.meta, doneKey), doneKey);
}
