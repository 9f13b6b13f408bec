export type Fields = Readonly<Record<string, string>>;

/** What a tick or a job did, in a few numbers and words. */
export type JobSummary = Readonly<Record<string, string | number | boolean>>;

/** A BullMQ job to add; jobId makes the add idempotent across retries and replicas. */
export interface ScheduledJob {
  readonly queue: string;
  readonly name: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly delayMs: number;
  readonly jobId: string;
}

type OnFail = { readonly onFail?: () => void };
/** Where `add` puts a member. A list is pushed at its head and kept to its newest `maxLength` items. */
export type Collection =
  | { readonly to: 'set' }
  | { readonly to: 'sorted-set'; readonly score: number; readonly ttlSec?: number }
  | { readonly to: 'list'; readonly maxLength: number; readonly ttlSec?: number };
/** What `remove` takes out of a key; the key itself when none is given. */
export type Members =
  { readonly from: 'set' | 'sorted-set'; readonly member: string } | { readonly from: 'sorted-set'; readonly scoredAtMost: number };
/**
 * What must still hold at `key` when the commit runs. `holding` null: still absent. `off`: a switch absent or holding one of
 * `offValues` (trimmed, lower-cased). With `read` (its value as read) the commit script checks exactly that value: without,
 * a read of the switch precedes the commit: one round trip more for each plan permitted, at upstream's rates too.
 */
export type Condition =
  | { readonly is: 'absent' }
  | { readonly is: 'holding'; readonly value: string | null }
  | { readonly is: 'off'; readonly offValues: readonly string[]; readonly read?: string | null };

export interface EffectWriter {
  emit(stream: string, fields: Fields, options?: { maxLen?: number } & OnFail): void;
  /** A string value, or a hash's fields; `replace` deletes the hash first, `latestWins` sends only a commit's last put of the key. */
  put(key: string, value: string, options?: { ttlSec?: number } & OnFail): void;
  put(key: string, fields: Fields, options?: { ttlSec?: number; replace?: boolean; latestWins?: boolean } & OnFail): void;
  add(key: string, member: string, to: Collection): void;
  /** Deletes `key`, or only the members named. */
  remove(key: string, members?: Members): void;
  /** If `condition` no longer holds at commit, none of this message's effects apply and the handler runs again on fresh data. */
  require(key: string, condition: Condition): void;
  /** Newest wins: apply only if `key` holds no later stream id than `id` at commit, and store `id`; else ack with `onSkip`'s metrics. */
  onlyIfNewer(key: string, id: string, options?: { onSkip?: () => void }): void;
  /** Commit only after every earlier entry of the stream whose `field` holds `value` has (the heat bridge's first-wins dedupe). */
  orderBy(field: string, value: string): void;
  schedule(job: ScheduledJob): void;
}
