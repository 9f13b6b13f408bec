import type { Collection, Condition, EffectWriter, Fields, JobSummary, Members, ScheduledJob } from '../contract/effects.js';
import type { DeferredMetricCalls } from './metrics.js';

export type { EffectWriter, Fields, JobSummary, ScheduledJob } from '../contract/effects.js';

/** What a handler records for the commit. `onFail` runs when Redis refuses the write (a gate's own counter). */
export type Effect = { readonly onFail?: () => void } & (
  | { readonly op: 'emit'; readonly stream: string; readonly fields: Fields; readonly maxLen?: number }
  | {
      readonly op: 'putHash';
      readonly key: string;
      readonly fields: Fields;
      readonly ttlSec?: number;
      /** Delete the hash first, so fields of an older version do not linger. */
      readonly replace?: boolean;
      /** Only the newest value matters: of several in one commit, only the last is sent. */
      readonly latestWins?: boolean;
    }
  | { readonly op: 'setKey'; readonly key: string; readonly value: string; readonly ttlSec?: number }
  | { readonly op: 'deleteKey'; readonly key: string }
  | { readonly op: 'addToSet'; readonly key: string; readonly member: string }
  | { readonly op: 'removeFromSet' | 'removeFromSortedSet'; readonly key: string; readonly member: string }
  | { readonly op: 'addToSortedSet'; readonly key: string; readonly score: number; readonly member: string; readonly ttlSec?: number }
  | { readonly op: 'trimSortedSet'; readonly key: string; readonly maxScore: number }
  | { readonly op: 'pushToList'; readonly key: string; readonly value: string; readonly maxLength: number; readonly ttlSec?: number }
);

/** The key an effect writes (an emit's is its stream). */
export const effectKey = (effect: Effect): string => (effect.op === 'emit' ? effect.stream : effect.key);

/** A precondition of a message's commit; failing, nothing of it applies and it runs again on fresh data. */
export type Guard =
  | { readonly kind: 'absent'; readonly key: string }
  | { readonly kind: 'equals'; readonly key: string; readonly value: string }
  /**
   * A switch that must be off: absent, or one of the off values. With `read` (the value the decision read; null: absent),
   * the commit script checks the key still holds exactly it, with no read before the commit.
   */
  | { readonly kind: 'off'; readonly key: string; readonly offValues: readonly string[]; readonly read?: string | null };

// An absent ttlSec stays absent (not `ttlSec: undefined`), so recorded effects compare as before.
const ttl = (ttlSec: number | undefined) => (ttlSec === undefined ? {} : { ttlSec });

export class EffectRecorder implements EffectWriter {
  readonly effects: Effect[] = [];
  readonly guards: Guard[] = [];
  readonly jobs: ScheduledJob[] = [];
  readonly order: [field: string, value: string][] = [];
  readonly metricCalls: DeferredMetricCalls = [];
  summary: JobSummary | undefined;

  summarize(fields: JobSummary): void {
    this.summary = { ...this.summary, ...fields };
  }

  emit(stream: string, fields: Fields, options?: { maxLen?: number; onFail?: () => void }): void {
    this.effects.push({ op: 'emit', stream, fields, ...options });
  }
  put(key: string, value: string, options?: { ttlSec?: number; onFail?: () => void }): void;
  put(key: string, fields: Fields, options?: { ttlSec?: number; replace?: boolean; latestWins?: boolean; onFail?: () => void }): void;
  put(
    key: string,
    value: string | Fields,
    options?: { ttlSec?: number; replace?: boolean; latestWins?: boolean; onFail?: () => void },
  ): void {
    if (typeof value === 'string') this.effects.push({ op: 'setKey', key, value, ...options });
    else this.effects.push({ op: 'putHash', key, fields: value, ...options });
  }
  add(key: string, member: string, to: Collection): void {
    if (to.to === 'set') this.effects.push({ op: 'addToSet', key, member });
    else if (to.to === 'sorted-set') this.effects.push({ op: 'addToSortedSet', key, score: to.score, member, ...ttl(to.ttlSec) });
    else this.effects.push({ op: 'pushToList', key, value: member, maxLength: to.maxLength, ...ttl(to.ttlSec) });
  }
  remove(key: string, members?: Members): void {
    if (members === undefined) this.effects.push({ op: 'deleteKey', key });
    else if (!('member' in members)) this.effects.push({ op: 'trimSortedSet', key, maxScore: members.scoredAtMost });
    else this.effects.push({ op: members.from === 'set' ? 'removeFromSet' : 'removeFromSortedSet', key, member: members.member });
  }
  require(key: string, condition: Condition): void {
    this.guards.push(
      condition.is === 'off'
        ? { kind: 'off', key, offValues: condition.offValues, ...(condition.read === undefined ? {} : { read: condition.read }) }
        : condition.is === 'absent' || condition.value === null
          ? { kind: 'absent', key }
          : { kind: 'equals', key, value: condition.value },
    );
  }
  schedule(job: ScheduledJob): void {
    this.jobs.push(job);
  }
  orderBy(field: string, value: string): void {
    this.order.push([field, value]);
  }
  /** Set by onlyIfNewer; one per message (a later call replaces an earlier one). */
  condition: { readonly key: string; readonly id: string; readonly onSkip?: () => void } | undefined;
  onlyIfNewer(key: string, id: string, options: { onSkip?: () => void } = {}): void {
    this.condition = { key, id, ...options };
  }
  /** For a superseded message: runs onSkip and returns only the metric updates it made. */
  skippedMetricCalls(): DeferredMetricCalls {
    const from = this.metricCalls.length;
    this.condition?.onSkip?.();
    return this.metricCalls.slice(from);
  }
}
