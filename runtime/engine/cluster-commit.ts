import { randomUUID } from 'node:crypto';
import { itemCommands, OLDER_STREAM_ID, readReplies, type Command, type CommitReport, type CommitSource } from './batch-script.js';
import { guardHolds, inStreamOrder, type Committer } from './commit.js';
import type { CommitItem } from './delivery.js';
import { queueCommands } from './effect-commands.js';
import type { EffectRecorder } from './effects.js';
import { slotTag, type RedisClient } from './connection.js';
import { lua } from './lua.js';

/**
 * Commits a batch on Redis Cluster, where a message's outputs, guard keys and source stream sit in
 * different slots: (1) a lease on every guard key, taken with a compare-and-set that checks the
 * guard; (2) every effect, per slot in recorded order, awaited; (3) one XACK; (4) leases released.
 * At-least-once, not atomic: a crash between (2) and (3) redelivers the entries (overwrites are
 * idempotent; an emitted entry can appear twice, so consumers dedupe on plan_id). See docs/cluster.md.
 */
export class ClusterCommitter implements Committer {
  /** Each recorder keeps its token across re-commits, so a retried commit re-enters its own leases. */
  private readonly tokens = new WeakMap<EffectRecorder, string>();

  constructor(
    private readonly connection: RedisClient,
    private readonly streamMaxLen: number,
  ) {}

  async commit<Item extends CommitItem>(source: CommitSource | undefined, items: readonly Item[]): Promise<CommitReport<Item>> {
    const { accepted: candidates, deferred: conflicted } = inStreamOrder(items);

    const taken = await Promise.all(candidates.map((item) => this.acquire(item.recorder)));
    const leases = taken.flatMap((held) => held ?? []);
    const failed = new Set(candidates.filter((_, k) => taken[k] === null));
    // An item whose lease failed holds back every later item touching its keys (stream order).
    const { accepted, deferred } = inStreamOrder(candidates, failed);
    conflicted.push(...deferred);

    const superseded = new Set(await this.advanceOrders(accepted));
    const applying = accepted.filter((item) => !superseded.has(item));
    const { effectFailures, trimmed = 0 } = await this.applyEffects(applying);
    const withheld = new Set(effectFailures.map((f) => f.item));
    const ackIds = accepted.flatMap((item) => (withheld.has(item) || item.entryId === undefined ? [] : [item.entryId]));
    if (source && ackIds.length > 0) await this.connection.xack(source.stream, source.group, ...ackIds);
    await this.release(leases);
    // Ownership is not re-checked here: see dropReclaimed in commit-loop.ts.
    for (const item of conflicted) item.answer = 'conflicted';
    for (const item of accepted) item.answer = superseded.has(item) ? 'superseded' : withheld.has(item) ? 'withheld' : 'committed';
    return { effectFailures, ...(trimmed > 0 ? { trimmed } : {}) };
  }

  /** The item's leases, or null (having given back what it took) when a guard does not hold or is leased. */
  private async acquire(recorder: EffectRecorder | undefined): Promise<Lease[] | null> {
    const guards = recorder?.guards ?? [];
    if (guards.length === 0) return [];
    const token = this.tokens.get(recorder!) ?? randomUUID();
    this.tokens.set(recorder!, token);
    const taken: Lease[] = [];
    for (const guard of guards) {
      let holds: boolean;
      if (guard.kind === 'off') {
        // Read, not leased: a lease would serialise every commit on the one switch key.
        const value = (await this.connection.get(guard.key)) as string | null;
        holds = guardHolds(guard, value !== null, value);
      } else {
        const lease = { key: leaseKey(guard.key), token };
        const value = guard.kind === 'equals' ? guard.value : '';
        holds = (await this.connection.eval(TAKE_LEASE, 2, guard.key, lease.key, guard.kind, value, token, LEASE_MS)) === 1;
        if (holds) taken.push(lease);
      }
      if (!holds) {
        await this.release(taken);
        return null;
      }
    }
    return taken;
  }

  /**
   * Newest-wins conditions, in batch order: the items whose key held a later id (superseded). Not
   * atomic with the effects, in other slots: an older message may still write after a newer one.
   */
  private async advanceOrders<Item extends CommitItem>(accepted: readonly Item[]): Promise<Item[]> {
    const conditional = accepted.filter((item) => item.recorder?.condition !== undefined);
    // Sent together, in batch order: two conditions on one key reach its node in that order.
    const conditions = conditional.map((item) => item.recorder!.condition!);
    const advanced = await Promise.all(conditions.map((c) => this.connection.eval(ADVANCE_ORDER, 1, c.key, c.id)));
    return conditional.filter((_, k) => advanced[k] !== 1);
  }

  /** Best effort: a lease left behind expires after LEASE_MS. */
  private async release(leases: readonly Lease[]): Promise<void> {
    await Promise.all(leases.map((l) => this.connection.eval(GIVE_BACK_LEASE, 1, l.key, l.token).catch(() => undefined)));
  }

  /**
   * Applies effects as one pipeline per slot, in recorded order, slots concurrently. A command Redis
   * rejects is an effect failure; anything else throws, so nothing unapplied is acknowledged.
   */
  private async applyEffects<Item extends CommitItem>(accepted: readonly Item[]): Promise<CommitReport<Item>> {
    const groups = new Map<string, Command<Item>[]>();
    for (const command of accepted.flatMap((item) => itemCommands(item, new Set(), this.streamMaxLen))) {
      const tag = slotTag(command.args[1]!);
      groups.set(tag, [...(groups.get(tag) ?? []), command]);
    }
    const reports = await Promise.all(
      [...groups.values()].map(async (commands) => {
        const pipeline = this.connection.pipeline();
        queueCommands(pipeline, commands);
        const replies = (await pipeline.exec()) ?? [];
        if (replies.length !== commands.length)
          throw new Error(`pipeline returned ${replies.length} replies for ${commands.length} commands`);
        return readReplies(commands, replies);
      }),
    );
    // In batch order, whichever slot's pipeline answered first.
    const place = new Map(accepted.map((item, k) => [item, k] as const));
    const failures = reports.flatMap((r) => r.effectFailures).sort((a, b) => place.get(a.item!)! - place.get(b.item!)!);
    return { effectFailures: failures, trimmed: reports.reduce((sum, r) => sum + (r.trimmed ?? 0), 0) };
  }
}

type Lease = { readonly key: string; readonly token: string };

/** How long a guard lease outlives a committer that died holding it. */
const LEASE_MS = 10_000;

/** Takes the lease (or renews our own) only if no one else holds it and the guard holds right now. */
const TAKE_LEASE = lua('take-lease');

/** Stores a newest-wins key's id unless a later one is there. */
const ADVANCE_ORDER = `${OLDER_STREAM_ID}\n${lua('advance-order')}`;

const GIVE_BACK_LEASE = lua('give-back-lease');

/**
 * A lease key in the guard key's slot, so one script may touch both. A key with a '}' but no valid
 * tag (none of ours) cannot be wrapped: the script then fails with CROSSSLOT, never passes unguarded.
 */
export function leaseKey(key: string): string {
  return slotTag(key) !== key || key.includes('{') ? `${key}:qg:lease` : `{${key}}:qg:lease`;
}
