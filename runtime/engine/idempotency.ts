import { compareStreamIds } from '../../schemas/fields.js';
import type { AnyHandler, HandlerContext, IdempotencyKey, MessageMeta } from '../contract/handler.js';
import type { RedisReader } from '../contract/redis-reader.js';
import { lua } from './lua.js';

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

/** Whether any key says the message was done, each read alone: a message's keys may lie in different cluster slots. */
async function anyDone(redis: RedisReader, idempotencyKeys: readonly IdempotencyKey[]): Promise<boolean> {
  const replies = await Promise.all(idempotencyKeys.map((k) => (typeof k === 'string' ? redis.exists(k) : redis.get(k.key))));
  return idempotencyKeys.some((k, i) => keySaysDone(k, replies[i]));
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

/** A message of a batch whose duplicate check is to start (see startDuplicateChecks). */
export interface CheckedMessage {
  readonly message: unknown;
  readonly meta: MessageMeta;
  readonly doneKey: string | undefined;
}

/**
 * Reads every key of a batch's duplicate checks in one call: EXISTS for an existence key ('e'),
 * GET for a newest-wins key ('g'), each under pcall so that a read that fails (WRONGTYPE) fails
 * only its own message's check, as a read sent alone would. KEYS are declared, so Redis Cluster
 * refuses the script rather than read keys of other slots.
 */
const READ_DUPLICATE_KEYS = lua('read-duplicate-keys');

/**
 * Starts the duplicate checks of a batch, in its order. A message's keys come from the message
 * and its meta alone, so the runtime starts every check of a batch while the batch state loads:
 * the checks add no round trip of their own to the batch. The keys of all its messages go to Redis
 * as one read-only script instead of a command each (the governor checks two keys a plan, and a
 * command's client-side cost, a Command object, its promise and their garbage, was most of the
 * check's: docs/performance.md, "governor"). Each check answers what reading its keys alone would:
 * a key's failed read fails its own message's check. Where the script cannot run (Redis Cluster,
 * whose keys lie in different slots; a Redis without EVAL_RO) the keys are read one by one.
 */
export function startDuplicateChecks(handler: AnyHandler, messages: readonly CheckedMessage[], redis: RedisReader): DuplicateCheck[] {
  const keysOfMessages = messages.map((m) => keysOf(handler, m.message, m.meta, m.doneKey));
  const keyed = keysOfMessages.filter((k) => k.length > 0).length;
  if (keyed < 2 || (redis as { readonly isCluster?: boolean }).isCluster === true) {
    return messages.map((m, i) => {
      const idempotencyKeys = keysOfMessages[i]!;
      return idempotencyKeys.length === 0 ? NO_CHECK : started(idempotencyKeys, m.doneKey, anyDone(redis, idempotencyKeys));
    });
  }
  const declared: string[] = [];
  const kinds: string[] = [];
  for (const idempotencyKeys of keysOfMessages) {
    for (const k of idempotencyKeys) {
      declared.push(typeof k === 'string' ? k : k.key);
      kinds.push(typeof k === 'string' ? 'e' : 'g');
    }
  }
  // Undefined when the script could not run: each message then reads its keys alone.
  const replies: Promise<unknown[] | undefined> = redis.eval_ro(READ_DUPLICATE_KEYS, declared.length, ...declared, ...kinds).then(
    (reply) => reply as unknown[],
    () => undefined,
  );
  let from = 0;
  return messages.map((m, i) => {
    const idempotencyKeys = keysOfMessages[i]!;
    if (idempotencyKeys.length === 0) return NO_CHECK;
    const at = from;
    from += idempotencyKeys.length;
    const done = replies.then((all) =>
      // Every key's reply is read, so a failed read fails the check even beside a key that says done (as Promise.all does).
      all === undefined ? anyDone(redis, idempotencyKeys) : idempotencyKeys.map((k, j) => keySaysDone(k, all[at + j])).includes(true),
    );
    return started(idempotencyKeys, m.doneKey, done);
  });
}

/**
 * Whether one key's reply says the message was done (a failed read throws): an existence key
 * exists (EXISTS: a hash or set left there says "done" as well as a string), or a newest-wins
 * key holds a later id.
 */
function keySaysDone(key: IdempotencyKey, reply: unknown): boolean {
  if (reply instanceof Error) throw reply;
  if (typeof key === 'string') return Number(reply) > 0;
  // An empty value is no id: nothing applied yet.
  return typeof reply === 'string' && reply !== '' && compareStreamIds(reply, key.id) > 0;
}

function started(keys: readonly IdempotencyKey[], doneKey: string | undefined, done: Promise<boolean>): DuplicateCheck {
  // Read by handleOnce; a batch whose state failed to load never asks, and must not leave it unhandled.
  done.catch(() => undefined);
  return { keys, doneKey, done };
}

/** Runs one message as its declaration says: a duplicate gets onDuplicate, anything else `handle` with its keys guarded in the commit. */
export async function handleOnce(handler: AnyHandler, message: unknown, ctx: Ctx, check: DuplicateCheck): Promise<void> {
  if (check.done !== undefined) {
    if (await check.done) return handler.idempotency?.onDuplicate(message, ctx);
    guard(handler, message, ctx, check.keys, check.doneKey);
  }
  return handler.handle(message, ctx);
}

/**
 * The same guards for a failure policy's output (its fallback): a fallback must not land on a
 * message another replica has done meanwhile, and a job's fallback completes it like `handle`.
 */
export function guardFallback(handler: AnyHandler, message: unknown, ctx: Ctx, doneKey: string | undefined): void {
  guard(handler, message, ctx, keysOf(handler, message, ctx.meta, doneKey), doneKey);
}
