/** A stream entry's or a hash's fields, as Redis holds them: strings. */
export type Fields = Readonly<Record<string, string>>;

/** A job's summary values: what a tick or a job did, in a few numbers and words. */
export type JobSummary = Readonly<Record<string, string | number | boolean>>;

/** A BullMQ job to add; jobId makes the add idempotent across retries and replicas. */
export interface ScheduledJob {
  readonly queue: string;
  readonly name: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly delayMs: number;
  readonly jobId: string;
}

export interface EffectWriter {
  emit(stream: string, fields: Fields, options?: { maxLen?: number; onFail?: () => void }): void;
  putHash(key: string, fields: Fields, options?: { ttlSec?: number; replace?: boolean; latestWins?: boolean; onFail?: () => void }): void;
  setKey(key: string, value: string, options?: { ttlSec?: number; onFail?: () => void }): void;
  deleteKey(key: string): void;
  addToSet(key: string, member: string): void;
  removeFromSet(key: string, member: string): void;
  addToSortedSet(key: string, score: number, member: string, options?: { ttlSec?: number }): void;
  /** Removes members scored at or below maxScore (sliding windows). */
  trimSortedSet(key: string, maxScore: number): void;
  /** Pushes `value` at the head of a list kept to its newest `maxLength` items. */
  pushToList(key: string, value: string, options: { maxLength: number; ttlSec?: number }): void;
  /** Commit only if `key` does not exist at commit time. */
  requireAbsent(key: string): void;
  /** Commit only if `key` still holds `value` at commit time. */
  requireValue(key: string, value: string): void;
  /** Commit only if `key` still holds what was read (`null`: still absent): requireAbsent or requireValue. */
  requireUnchanged(key: string, read: string | null): void;
  /**
   * Commit only if the switch at `key` is off at commit time: absent, or holding one of
   * `offValues` (compared trimmed and lower-cased). A safety switch set before the commit runs
   * therefore stops it, however long ago the handler read the switch.
   */
  requireOff(key: string, offValues: readonly string[]): void;
  /**
   * Newest wins: apply this message's effects only if `key` holds no stream id later than `id`
   * when the commit runs, and store `id` there with them (an equal id applies again, so a
   * redelivery is harmless). Otherwise the message is acknowledged with none of its effects and
   * `onSkip` runs (its metric updates count; the handler's others do not). Unlike a guard this
   * never re-runs the handler: it is checked in batch order, inside the commit.
   */
  onlyIfNewer(key: string, id: string, options?: { onSkip?: () => void }): void;
  /**
   * Stream order across replicas: this message's effects commit only after every earlier entry
   * of its stream whose `field` holds the same `value` (pending with another consumer, or left for
   * a retry) has committed. Until then the message waits and runs again, so a later duplicate can
   * never commit before the first (the heat bridge's first-wins dedupe, its latest_* keys).
   */
  orderBy(field: string, value: string): void;
  schedule(job: ScheduledJob): void;
}
