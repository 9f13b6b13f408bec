import { ReplyError, type Result } from 'ioredis';
import type { Effect } from './effects.js';
import type { CommitAnswer, CommitItem } from './delivery.js';
import { compareStreamIds } from '../../schemas/fields.js';
import { DEAD_LETTER_APPEND, DEAD_LETTER_APPEND_FUNCTION } from './dead-letter.js';
import { lua } from './lua.js';
import { MessagePack } from './msgpack.js';
import { effectCommands, extraEmitCommands, queueCommands } from './effect-commands.js';
import type { RedisClient } from './connection.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    qgRunBatch(...args: (string | Buffer)[]): Result<unknown, Context>;
  }
}

/** The stream entries a commit acknowledges, and the consumer that must still hold them. */
export interface CommitSource {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  /** Hash (field: group) where the commit records where the group would restart (see groupCursorKey). */
  readonly cursorKey?: string;
}

/** What a commit reports beyond each item's answer. */
export interface CommitReport<Item = unknown> {
  /** Commands Redis rejected (their items are withheld). */
  readonly effectFailures: EffectFailure<Item>[];
  /** Dead letters the per-gate bound removed (exact); absent when none. */
  readonly trimmed?: number;
}

/** A command Redis rejected inside a commit (the rest applied). */
export interface EffectFailure<Item = unknown> {
  /** The item whose command it was; undefined for the batch's own (its acknowledgement). */
  readonly item: Item | undefined;
  readonly effect: Effect | undefined;
  readonly error: Error;
}

/** Lua: older(a, b) on stream ids. */
export const OLDER_STREAM_ID = lua('older-stream-id');

/**
 * Applies a batch in one call (docs/architecture.md, "Atomic commit"). ARGV: stream, group,
 * consumer, the batch's lowest and highest entry id, the cursor key, then the items in MessagePack
 * chunks (see MessagePack), each item an array [entry id, newest-wins key, its id, [order field,
 * value...], [GuardCheck...], [[command...]...]] of strings. Answers {failed command numbers (1-based) and
 * errors interleaved, a letter per item (ANSWERS), trimmed}; check_only writes nothing (see check).
 * Lua's local functions come first: they must be defined before the body calls them.
 */
const batchScript = (checkOnly: boolean) =>
  [`local check_only = ${checkOnly}`, OLDER_STREAM_ID, DEAD_LETTER_APPEND_FUNCTION, lua('run-batch')].join('\n');
const RUN_BATCH = batchScript(false);
const CHECK_BATCH = batchScript(true);

const ANSWERS: Readonly<Record<string, CommitAnswer>> = {
  k: 'committed',
  s: 'superseded',
  c: 'conflicted',
  l: 'lost',
  w: 'waiting',
  h: 'withheld',
};

/** Defines RUN_BATCH on a connection, once: ioredis sends it by hash, its body on NOSCRIPT. */
export function defineBatchCommand(connection: RedisClient): void {
  if (typeof (connection as Partial<Pick<RedisClient, 'qgRunBatch'>>).qgRunBatch !== 'function')
    connection.defineCommand('qgRunBatch', { numberOfKeys: 0, lua: RUN_BATCH });
}

/** Lua's unpack() spreads at most ~8,000 values, so a command with more cannot run in the script. */
const SCRIPT_MAX_COMMAND_ARGS = 7_000;

const FIRST_ID = 3;
const LAST_ID = 4;

/**
 * A key RUN_BATCH checks or notes at an item's turn: 'a' must not exist, 'e' must hold `value`,
 * 'c' must hold `value` an earlier item sets (chained), 'r' a guard that did not hold when read,
 * 't' a write a later item overwrites (not sent). An item refused for a guard (conflicted) holds
 * back every later item touching a key it touches.
 */
export type GuardCheck = readonly [kind: 'a' | 'e' | 'c' | 't' | 'r', key: string, value: string];

/** An empty array for objects: an empty literal holds small integers until its first push, and code
 * optimised on that deoptimised at each push of a fresh process's first batches ("not a Smi"). */
const objectArray = <T>(): T[] => [undefined as T].slice(1);

/** One batch's writes, laid out as RUN_BATCH reads them (and as arrays, for a plain batch: see check). */
export class BatchScript<Item extends CommitItem> {
  private readonly args: string[];
  /** A plain batch's commands (a script's are packed as they come). */
  private readonly commands = objectArray<string[]>();
  private readonly entries = objectArray<string>();
  private readonly itemOfGroup = objectArray<Item>();
  private readonly commandItems = objectArray<Item>();
  private readonly commandEffects = objectArray<Effect | undefined>();
  private readonly packed = new MessagePack();
  /** True when a command is too large for the script (see check). */
  oversized = false;

  constructor(
    private readonly source: CommitSource | undefined,
    private readonly streamMaxLen: number,
    /** Sent as plain commands (the applying items of an oversized batch: see check). */
    private readonly plain = false,
  ) {
    this.args = [source?.stream ?? '', source?.group ?? '', source?.consumer ?? '', '', '', source?.cursorKey ?? ''];
  }

  /**
   * Adds `item`: its entry, acknowledged with its commands when there is a source, applied only
   * if its newest-wins condition and `checks` hold (a plain batch cannot check them: see check),
   * and its commands but the `overwritten` writes.
   * In a plain batch an `ackOnly` item sends no command, and the others' newest-wins ids are SETs
   * of their own.
   */
  addItem(item: Item, checks: readonly GuardCheck[], overwritten: ReadonlySet<Effect>, ackOnly = false): void {
    const entry = this.source ? (item.entryId ?? '') : '';
    if (entry !== '') {
      this.entries.push(entry);
      // Items come in stream order: one comparison each (an entry that became the last is not the first).
      if (this.args[LAST_ID] === '' || compareStreamIds(entry, this.args[LAST_ID]!) > 0) this.args[LAST_ID] = entry;
      if (this.args[FIRST_ID] === '' || (this.args[LAST_ID] !== entry && compareStreamIds(entry, this.args[FIRST_ID]!) < 0))
        this.args[FIRST_ID] = entry;
    }
    this.itemOfGroup.push(item);
    const recorder = item.recorder;
    const condition = recorder?.condition;
    const packed = this.packed;
    if (!this.plain) {
      packed.array(6);
      packed.string(entry);
      packed.string(condition?.key ?? '');
      packed.string(condition?.id ?? '');
      const order = recorder?.order ?? [];
      packed.array(order.length * 2);
      for (const pair of order) for (const part of pair) packed.string(part);
      packed.array(checks.length * 3);
      for (const check of checks) for (const part of check) packed.string(part);
    }
    const commands = this.plain ? this.commands : objectArray<string[]>();
    if (!ackOnly) {
      if (this.plain && condition !== undefined) this.track(commands, item, [['SET', condition.key, condition.id]], undefined);
      for (const effect of recorder?.effects ?? [])
        if (!overwritten.has(effect)) this.track(commands, item, effectCommands(effect, this.streamMaxLen), effect);
      // A dead letter's failures are reported against no effect.
      for (const extra of item.extraEmits ?? []) this.track(commands, item, extraEmitCommands(extra), undefined);
    }
    if (this.plain) return;
    // Packed at once: kept to the end of the batch, the arrays were a third of what survived a GC.
    packed.array(commands.length);
    for (const command of commands) {
      packed.array(command.length);
      for (let i = 0; i < command.length; i++) packed.string(command[i]!);
    }
    packed.end();
  }

  private track(into: string[][], item: Item, commands: readonly string[][], owner: Effect | undefined): void {
    for (const command of commands) {
      if (command.length > SCRIPT_MAX_COMMAND_ARGS) this.oversized = true;
      into.push(command);
      this.commandItems.push(item);
      this.commandEffects.push(owner);
    }
  }

  /**
   * Runs the batch and answers each item. A plain batch (see check) goes as one MULTI/EXEC that
   * answers nothing (the check did), and is null when a WATCHed key changed and nothing ran.
   */
  async run(connection: RedisClient): Promise<CommitReport<Item> | null> {
    if (this.commandItems.length === 0 && this.entries.length === 0) {
      if (this.plain) await connection.unwatch();
      else for (const item of this.itemOfGroup) item.answer = 'committed';
      return { effectFailures: [] };
    }
    if (!this.plain) return this.scriptResult(await connection.qgRunBatch(...this.scriptArgs()));
    const transaction = connection.multi();
    queueCommands(transaction, this.commands);
    if (this.source && this.entries.length > 0) transaction.xack(this.source.stream, this.source.group, ...this.entries);
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await transaction.exec();
    } catch (error) {
      // The first refusal says why (EXEC's EXECABORT only repeats that something was refused).
      const previous = (error as { previousErrors?: Error[] }).previousErrors?.[0];
      throw previous ?? error;
    }
    return replies && this.plainResult(replies);
  }

  /**
   * For an oversized batch (a command past Lua's unpack limit): under WATCH on every key the script
   * reads or the batch writes, runs the script writing nothing, which answers each item as it
   * would have; returns the writes it found would fail. Ownership and stream order are not WATCHed.
   */
  async check(connection: RedisClient, keys: readonly string[]): Promise<EffectFailure<Item>[]> {
    await connection.watch(...keys);
    return this.scriptResult(await connection.eval(CHECK_BATCH, 0, ...this.scriptArgs())).effectFailures;
  }

  private plainResult(replies: [Error | null, unknown][]): CommitReport<Item> {
    const failures: EffectFailure<Item>[] = [];
    let trimmed = 0;
    replies.forEach(([error, reply], i) => {
      if (error) failures.push(this.failure(i, error));
      else if (i < this.commands.length && this.commands[i]![0] === DEAD_LETTER_APPEND) trimmed += Number(reply);
    });
    return trimmed > 0 ? { effectFailures: failures, trimmed } : { effectFailures: failures };
  }

  private scriptResult(reply: unknown): CommitReport<Item> {
    const [failed, answers, trimmed] = reply as [(number | string)[], string, number];
    const failures: EffectFailure<Item>[] = [];
    for (let i = 0; i < failed.length; i += 2) failures.push(this.failure(Number(failed[i]) - 1, new ReplyError(String(failed[i + 1]))));
    for (let i = 0; i < answers.length; i++) this.itemOfGroup[i]!.answer = ANSWERS[answers[i]!];
    return trimmed > 0 ? { effectFailures: failures, trimmed } : { effectFailures: failures };
  }

  private failure(command: number, error: Error): EffectFailure<Item> {
    return { item: this.commandItems[command], effect: this.commandEffects[command], error };
  }

  /** The batch's own arguments, then its items' packed chunks. */
  private scriptArgs(): (string | Buffer)[] {
    return [...this.args, ...this.packed.values()];
  }
}
