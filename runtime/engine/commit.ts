import {
  defineBatchCommand,
  itemCommands,
  PlainBatch,
  ScriptBatch,
  type CommitReport,
  type CommitSource,
  type GuardCheck,
} from './batch-script.js';
import { aheadCommands, writeAhead } from './write-ahead.js';
import type { CommitItem } from './delivery.js';
import { effectKey, type Effect, type EffectRecorder, type Guard } from './effects.js';
import { waitUntilReady, type RedisClient } from './connection.js';
import { lua } from './lua.js';

export interface Committer {
  /** Commits what it can of `items` and sets every item's answer; `stop` ends a wait for Redis (the commit then fails). */
  commit<Item extends CommitItem>(
    source: CommitSource | undefined,
    items: readonly Item[],
    stop?: AbortSignal,
  ): Promise<CommitReport<Item>>;
}

/** Each key's existence and string value: EXISTS, since GET says nil (or WRONGTYPE) for a hash or set that exists. */
const CHECK_GUARDED_KEYS = lua('check-guarded-keys');

/** What readSwitches read of a key: its string value, null when absent, false when of another type. */
type Switches = ReadonlyMap<string, string | null | false>;

/** Whether a switch guard holds; the other guards are compared in Redis (the commit script, a lease's take). */
export function guardHolds(guard: Extract<Guard, { kind: 'off' }>, exists: boolean, value: string | null): boolean {
  return !exists || (value !== null && guard.offValues.includes(value.trim().toLowerCase()));
}

/**
 * The keys whose order matters for an item: those it guards, those it writes (emits excepted:
 * appending to a stream never changes what a later item reads or guards) and its newest-wins key.
 */
function orderedKeys(recorder: EffectRecorder | undefined): string[] {
  if (recorder === undefined) return [];
  const touched = recorder.guards.map((g) => g.key);
  for (const effect of recorder.effects) if (effect.op !== 'emit') touched.push(effect.key);
  if (recorder.condition) touched.push(recorder.condition.key);
  return touched;
}

/**
 * Which of `candidates` may commit this round without breaking stream order per key
 * (docs/architecture.md, "Atomic commit"). Deferred (conflicted, re-run on fresh data): an item in
 * `failed`, one guarding a key an earlier accepted item writes, and one touching a key an earlier
 * deferred item touches (transitively).
 */
export function inStreamOrder<Item extends CommitItem>(
  candidates: readonly Item[],
  failed: ReadonlySet<Item> = new Set(),
): { accepted: Item[]; deferred: Item[] } {
  const written = new Set<string>();
  const blocked = new Set<string>();
  const accepted: Item[] = [];
  const deferred: Item[] = [];
  for (const item of candidates) {
    const recorder = item.recorder;
    const touched = orderedKeys(recorder);
    const defer = failed.has(item) || (recorder?.guards ?? []).some((g) => written.has(g.key)) || touched.some((key) => blocked.has(key));
    if (defer) {
      deferred.push(item);
      for (const key of touched) blocked.add(key);
      continue;
    }
    accepted.push(item);
    for (const effect of recorder?.effects ?? []) written.add(effectKey(effect));
    if (recorder?.condition) written.add(recorder.condition.key);
  }
  return { accepted, deferred };
}

/** Every key an oversized batch's check reads or its commands write (see commitPlain). */
function touchedKeys(items: readonly CommitItem[]): string[] {
  const keys = new Set<string>();
  for (const item of items) {
    for (const key of orderedKeys(item.recorder)) keys.add(key);
    for (const effect of item.recorder?.effects ?? []) if (effect.op === 'emit') keys.add(effect.stream);
    for (const extra of item.extraEmits ?? []) keys.add(extra.stream).add(extra.index ?? extra.stream);
  }
  return [...keys];
}

/**
 * latestWins writes a later message of the same commit overwrites anyway. A message with a
 * condition or a guard may not apply, so its writes neither replace nor are replaced.
 */
function overwrittenWrites(accepted: readonly CommitItem[]): Set<Effect> {
  const last = new Map<string, Effect>();
  const overwritten = new Set<Effect>();
  for (const item of accepted) {
    const recorder = item.recorder;
    if (recorder?.condition || (recorder?.guards.length ?? 0) > 0) continue;
    for (const effect of recorder?.effects ?? []) {
      if (effect.op !== 'putHash' || !effect.latestWins) continue;
      const previous = last.get(effect.key);
      if (previous) overwritten.add(previous);
      last.set(effect.key, effect);
    }
  }
  return overwritten;
}

/** What the batch script checks or notes of an item at its turn (see GuardCheck); `overwritten`: the writes not sent. */
function guardChecks(item: CommitItem, overwritten: ReadonlySet<Effect>, switches: Switches): readonly GuardCheck[] {
  const recorder = item.recorder;
  if (recorder === undefined) return [];
  const checks: GuardCheck[] = [];
  for (const guard of recorder.guards) {
    if (guard.kind === 'equals') checks.push(['e', guard.key, guard.value]);
    else if (guard.kind === 'absent') checks.push(['a', guard.key, '']);
    else {
      // Judged here on the value the decision read (guard.read), or else on the one readSwitches
      // read; the script checks the key still holds it.
      const value = guard.read !== undefined ? guard.read : switches.get(guard.key)!;
      if (!guardHolds(guard, value !== null, value === false ? null : value)) checks.push(['r', guard.key, '']);
      else checks.push(value === null ? ['a', guard.key, ''] : ['e', guard.key, String(value)]);
    }
  }
  for (const effect of recorder.effects) if (overwritten.has(effect) && effect.op !== 'emit') checks.push(['t', effect.key, '']);
  return checks;
}

/**
 * Commits a batch on one Redis node: the effects, dead letters and XACK in one script call (an
 * oversized batch: one MULTI/EXEC), so a crash can never separate an output from its ack. The
 * connection must be the committer's own: WATCH and MULTI are per connection.
 */
export class TransactionCommitter implements Committer {
  constructor(
    private readonly connection: RedisClient,
    private readonly streamMaxLen: number,
    /** Whether `key` is the item's own write (OwnKeys.writes): a large job's own writes go ahead a slice at a time. */
    private readonly ownWrite?: (key: string, item: CommitItem) => boolean,
  ) {
    defineBatchCommand(connection);
  }

  /** Of each decision written ahead in slices (its recorder), the commands that have landed, so a retried commit resumes after them. */
  private readonly landed = new WeakMap<object, number>();

  async commit<Item extends CommitItem>(source: CommitSource | undefined, items: readonly Item[], stop?: AbortSignal) {
    // The connection queues nothing while down (a WATCH does not survive a reconnect): wait, not fail, until a stop.
    await waitUntilReady(this.connection, stop);
    const { accepted, deferred } = inStreamOrder(items);
    const overwritten = overwrittenWrites(accepted);
    for (;;) {
      const switches = await this.readSwitches(accepted);
      const script = new ScriptBatch<Item>(source, this.streamMaxLen);
      for (const item of accepted) {
        const checks = guardChecks(item, overwritten, switches);
        const commands = itemCommands(item, overwritten, this.streamMaxLen);
        // Alone in its commit, nothing before it to keep in order with: a large item's repeatable writes go ahead.
        const split = this.ownWrite && accepted.length === 1 ? aheadCommands(item, commands, this.ownWrite) : undefined;
        const refused = split && (await writeAhead(this.connection, item, checks, split.ahead, this.streamMaxLen, this.landed));
        if (refused) {
          for (const other of deferred) other.answer = 'conflicted';
          return refused;
        }
        script.add(item, checks, overwritten, split?.last ?? commands);
      }
      const report = script.oversized ? await this.commitPlain(source, accepted, script) : await script.run(this.connection);
      // Null: WATCH fired on an oversized batch, nothing applied; it is checked and sent again.
      if (report === null) continue;
      for (const item of deferred) item.answer = 'conflicted';
      return report;
    }
  }

  /**
   * The value of each 'off' guard's key the decision did not give (Guard.read): it is compared
   * trimmed and lower-cased as JavaScript does, which Lua cannot match for every text. A failed read
   * throws, never passes for an absent key.
   */
  private async readSwitches(items: readonly CommitItem[]): Promise<Switches> {
    const keys = new Set<string>();
    for (const item of items)
      for (const guard of item.recorder?.guards ?? []) if (guard.kind === 'off' && guard.read === undefined) keys.add(guard.key);
    if (keys.size === 0) return new Map();
    const pairs = (await this.connection.eval(CHECK_GUARDED_KEYS, keys.size, ...keys)) as (number | string | null)[];
    return new Map([...keys].map((key, i) => [key, pairs[2 * i] === 1 ? ((pairs[2 * i + 1] as string | null) ?? false) : null]));
  }

  /**
   * An oversized batch (see ScriptBatch.check), or null when WATCH aborted it: checked by the
   * script, then the items it would apply go out as plain commands (superseded ones ack only).
   */
  private async commitPlain<Item extends CommitItem>(
    source: CommitSource | undefined,
    accepted: readonly Item[],
    script: ScriptBatch<Item>,
  ): Promise<CommitReport<Item> | null> {
    const refused = await script.check(this.connection, touchedKeys(accepted));
    const applying = accepted.filter((item) => item.answer === 'committed' || item.answer === 'superseded');
    const plain = new PlainBatch<Item>(source, this.streamMaxLen);
    const overwritten = overwrittenWrites(applying);
    for (const item of applying) plain.add(item, overwritten);
    const result = await plain.run(this.connection);
    return result && { ...result, effectFailures: [...refused, ...result.effectFailures] };
  }
}
