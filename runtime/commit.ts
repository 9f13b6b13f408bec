import type { Pipeline } from 'ioredis';
import { BatchScript, type BatchResult, type CommitSource, type EffectFailure } from './batch-script.js';
import type { Effect, EffectRecorder, Fields, Guard } from './effects.js';
import { waitUntilReady, type RedisClient } from './redis.js';

export type { CommitSource, EffectFailure } from './batch-script.js';

/** One message's share of a commit: its effects (if any) and whether its entry is acknowledged. */
export interface CommitItem {
  /** The stream entry to XACK; absent for BullMQ jobs, which BullMQ completes itself. */
  readonly entryId?: string;
  readonly recorder?: EffectRecorder;
  /** Extra entries to append atomically, e.g. the message's dead-letter record. */
  readonly extraEmits?: readonly { stream: string; fields: Fields; maxLen: number }[];
}


export interface CommitReport {
  /** Items whose effects and ack were applied. */
  readonly committed: number[];
  /** Items whose guard no longer held; their handler must run again on fresh data. */
  readonly conflicted: number[];
  /** Items whose entry another consumer reclaimed (or acknowledged) meanwhile: nothing of theirs applied; they are its to finish. */
  readonly lost: number[];
  /** Items acknowledged without their effects: their newest-wins key already held a later id. */
  readonly superseded: number[];
  /** Commands inside the transaction that Redis rejected (the rest of the transaction applied). */
  readonly effectFailures: EffectFailure[];
}

export interface Committer {
  commit(source: CommitSource | undefined, items: readonly CommitItem[]): Promise<CommitReport>;
}

/**
 * A guarded item whose guard key an earlier item of the same batch writes cannot be checked yet:
 * it is deferred (reported as conflicted) and re-run after the earlier one commits.
 */
export function withoutIntraBatchConflicts(items: readonly CommitItem[], conflicted: number[]): number[] {
  const written = new Set<string>();
  const accepted: number[] = [];
  items.forEach((item, index) => {
    const guards = item.recorder?.guards ?? [];
    if (guards.some((g) => written.has(g.key))) {
      conflicted.push(index);
      return;
    }
    accepted.push(index);
    for (const key of item.recorder?.writtenKeys() ?? []) written.add(key);
  });
  return accepted;
}

/**
 * latestWins writes that a later message of the same commit overwrites anyway. A message with a
 * newest-wins condition may end up not applied, so its writes neither replace nor are replaced.
 */
function overwrittenWrites(items: readonly CommitItem[], accepted: readonly number[]): Set<Effect> {
  const last = new Map<string, Effect>();
  const overwritten = new Set<Effect>();
  for (const index of accepted) {
    const recorder = items[index]!.recorder;
    if (recorder?.condition) continue;
    for (const effect of recorder?.effects ?? []) {
      if (effect.op !== 'putHash' || !effect.latestWins) continue;
      const previous = last.get(effect.key);
      if (previous) overwritten.add(previous);
      last.set(effect.key, effect);
    }
  }
  return overwritten;
}


/**
 * Commits a batch on one Redis node: every accepted item's effects, the dead-letter entries and
 * one XACK for all their entries in a single MULTI/EXEC, so a crash can never separate an
 * output from its ack. Items with guards are checked under WATCH first; the connection must be
 * dedicated to this committer because WATCH and MULTI are per connection.
 */
export class TransactionCommitter implements Committer {
  constructor(
    private readonly connection: RedisClient,
    private readonly streamMaxLen: number,
  ) {}

  async commit(source: CommitSource | undefined, items: readonly CommitItem[]): Promise<CommitReport> {
    // The connection queues nothing while down (a WATCH does not survive a reconnect), so a
    // commit asked for during a reconnect (a job, at start) waits for it instead of failing.
    await waitUntilReady(this.connection);
    const conflicted: number[] = [];
    let accepted = withoutIntraBatchConflicts(items, conflicted);

    for (;;) {
      const guarded = accepted.filter((i) => (items[i]!.recorder?.guards.length ?? 0) > 0);
      if (guarded.length > 0) {
        const failing = await this.watchAndCheck(guarded.map((i) => [i, items[i]!.recorder!.guards] as const));
        if (failing.size > 0) {
          conflicted.push(...failing);
          accepted = accepted.filter((i) => !failing.has(i));
        }
      }
      const result = await this.exec(source, items, accepted);
      if (result !== null) {
        const notApplied = new Set([...result.lost, ...result.superseded, ...result.deferred]);
        return {
          committed: accepted.filter((i) => !notApplied.has(i)),
          conflicted: [...conflicted, ...result.deferred].sort((a, b) => a - b),
          lost: result.lost,
          superseded: result.superseded,
          effectFailures: result.failures,
        };
      }
      // WATCH fired: a guarded key changed between check and EXEC. Nothing applied; the guarded
      // items re-run their handlers, the rest are committed again.
      // Only those still accepted: the ones whose guard already failed the check are counted.
      const stillGuarded = guarded.filter((i) => accepted.includes(i));
      conflicted.push(...stillGuarded);
      accepted = accepted.filter((i) => !stillGuarded.includes(i));
    }
  }

  private async watchAndCheck(guardedItems: readonly (readonly [number, readonly Guard[]])[]): Promise<Set<number>> {
    const keys = [...new Set(guardedItems.flatMap(([, guards]) => guards.map((g) => g.key)))];
    await this.connection.watch(...keys);
    // EXISTS, not GET: a guard on a hash or set key must see it exists (GET would answer nil).
    const check = this.connection.pipeline();
    for (const key of keys) check.exists(key).get(key);
    const replies = (await check.exec()) ?? [];
    const exists = new Map<string, boolean>();
    const value = new Map<string, string | null>();
    keys.forEach((key, i) => {
      const [existsError, existsReply] = replies[2 * i] ?? [new Error('no reply to EXISTS'), null];
      const [getError, getReply] = replies[2 * i + 1] ?? [new Error('no reply to GET'), null];
      // A failed read (a lost connection) must never pass for an absent key: the consumer then
      // re-checks what is pending and commits again, under a fresh WATCH.
      if (existsError) throw existsError;
      if (getError && !getError.message.startsWith('WRONGTYPE')) throw getError;
      exists.set(key, existsReply === 1);
      // WRONGTYPE on GET of a non-string: it exists, and holds no string value to compare.
      value.set(key, getError ? null : (getReply as string | null));
    });
    const failing = new Set<number>();
    for (const [index, guards] of guardedItems) {
      const holds = guards.every((g) => (g.kind === 'absent' ? !exists.get(g.key) : value.get(g.key) === g.value));
      if (!holds) failing.add(index);
    }
    return failing;
  }

  /**
   * Returns what became of the accepted items, or null when WATCH aborted the transaction.
   * `deferred`: conditional items kept out of a plain-command transaction, for the next round.
   */
  private async exec(
    source: CommitSource | undefined,
    items: readonly CommitItem[],
    accepted: readonly number[],
  ): Promise<(BatchResult & { deferred: number[] }) | null> {
    let batch = this.build(source, items, accepted);
    let deferred: number[] = [];
    if (batch.script.oversized) {
      // Plain commands cannot check a newest-wins condition: such items wait for the next round.
      deferred = accepted.filter((i) => items[i]!.recorder?.condition !== undefined);
      if (deferred.length > 0) batch = this.build(source, items, accepted.filter((i) => !deferred.includes(i)));
    }
    if (batch.script.commandCount === 0 && batch.entries === 0) {
      await this.connection.unwatch();
      return { failures: [], lost: [], superseded: [], deferred };
    }
    // multi() is typed as a chainable commander; it is a Pipeline, whose sendCommand takes a built command.
    const transaction = this.connection.multi() as unknown as Pipeline;
    const readReplies = batch.script.queueOn(transaction);
    const replies = await transaction.exec();
    if (replies === null) return null;
    return { ...readReplies(replies), deferred };
  }

  private build(source: CommitSource | undefined, items: readonly CommitItem[], accepted: readonly number[]): { script: BatchScript; entries: number } {
    const script = new BatchScript(source, this.streamMaxLen);
    const overwritten = overwrittenWrites(items, accepted);
    let entries = 0;
    for (const index of accepted) {
      const item = items[index]!;
      script.beginItem(index, item.entryId, item.recorder?.condition);
      if (source && item.entryId !== undefined) entries += 1;
      for (const effect of item.recorder?.effects ?? []) {
        if (!overwritten.has(effect)) script.add(effect, effect);
      }
      for (const extra of item.extraEmits ?? []) script.add({ op: 'emit', ...extra }, undefined);
    }
    return { script, entries };
  }
}
