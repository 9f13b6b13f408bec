import { ReplyError, type Result } from 'ioredis';
import type { Effect } from './effects.js';
import type { CommitAnswer, CommitItem } from './delivery.js';
import { compareStreamIds } from '../../schemas/fields.js';
import { DEAD_LETTER_APPEND, DEAD_LETTER_APPEND_FUNCTION } from './dead-letter.js';
import { lua } from './lua.js';
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
 * consumer, the batch's lowest and highest entry id, the cursor key, then the items as one JSON
 * array, each item [entry id, newest-wins key, its id, [order field, value...], [GuardCheck...],
 * [[command...]...]] of strings. Answers {failed command numbers (1-based) and errors interleaved,
 * a letter per item (ANSWERS), trimmed}; CHECK_BATCH writes nothing (see ScriptBatch.check).
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
export const SCRIPT_MAX_COMMAND_ARGS = 7_000;

/**
 * A key RUN_BATCH checks or notes at an item's turn: 'a' must not exist, 'e' must hold `value`,
 * 'r' a guard that did not hold when read, 't' a write a later item overwrites (not sent). An item
 * refused for a guard (conflicted) holds back every later item touching a key it touches.
 */
export type GuardCheck = readonly [kind: 'a' | 'e' | 't' | 'r', key: string, value: string];

/** A command of a commit, with the item (and effect: none for a dead letter) a refusal of it is reported against. */
export interface Command<Item> {
  readonly args: readonly string[];
  readonly item: Item;
  readonly effect: Effect | undefined;
}

/** An item's commands: its effects but the `overwritten` writes, then its dead letters. */
export function itemCommands<Item extends CommitItem>(item: Item, overwritten: ReadonlySet<Effect>, streamMaxLen: number): Command<Item>[] {
  const commands: Command<Item>[] = [];
  for (const effect of item.recorder?.effects ?? [])
    if (!overwritten.has(effect)) for (const args of effectCommands(effect, streamMaxLen)) commands.push({ args, item, effect });
  for (const extra of item.extraEmits ?? []) for (const args of extraEmitCommands(extra)) commands.push({ args, item, effect: undefined });
  return commands;
}

/** The entries of `items` a commit acknowledges, and the lowest and highest of them. */
function entriesOf(source: CommitSource | undefined, items: readonly CommitItem[]): { ids: string[]; first: string; last: string } {
  const ids = source ? items.map((item) => item.entryId ?? '').filter((id) => id !== '') : [];
  const sorted = [...ids].sort(compareStreamIds);
  return { ids, first: sorted[0] ?? '', last: sorted[sorted.length - 1] ?? '' };
}

/** JSON text as ioredis would send each string: a lone surrogate becomes U+FFFD (cjson refuses it escaped). */
const wellFormed = (_key: string, value: unknown) => (typeof value === 'string' ? value.toWellFormed() : value);

/** A commit's items, in batch order, and their commands. */
abstract class Batch<Item extends CommitItem> {
  protected readonly items: Item[] = [];
  protected readonly commands: Command<Item>[] = [];

  constructor(
    protected readonly source: CommitSource | undefined,
    protected readonly streamMaxLen: number,
  ) {}
}

/** A batch committed by RUN_BATCH: every item checked at its turn and applied or answered, in one call. */
export class ScriptBatch<Item extends CommitItem> extends Batch<Item> {
  private readonly encoded: unknown[] = [];
  /** True when a command is too large for the script: the batch is then checked and sent plain (see check). */
  oversized = false;

  /** Adds `item`, applied only if its newest-wins condition and `checks` hold, without its `overwritten` writes (or with `commands` only). */
  add(
    item: Item,
    checks: readonly GuardCheck[],
    overwritten: ReadonlySet<Effect>,
    commands: readonly Command<Item>[] = itemCommands(item, overwritten, this.streamMaxLen),
  ): void {
    const recorder = item.recorder;
    if (commands.some((command) => command.args.length > SCRIPT_MAX_COMMAND_ARGS)) this.oversized = true;
    this.items.push(item);
    this.commands.push(...commands);
    this.encoded.push([
      this.source ? (item.entryId ?? '') : '',
      recorder?.condition?.key ?? '',
      recorder?.condition?.id ?? '',
      (recorder?.order ?? []).flat(),
      checks.flat(),
      commands.map((command) => command.args),
    ]);
  }

  /** Runs the batch and answers each item. */
  async run(connection: RedisClient): Promise<CommitReport<Item>> {
    if (this.commands.length === 0 && entriesOf(this.source, this.items).ids.length === 0) {
      for (const item of this.items) item.answer = 'committed';
      return { effectFailures: [] };
    }
    return this.result(await connection.qgRunBatch(...this.args()));
  }

  /**
   * For an oversized batch (a command past Lua's unpack limit): under WATCH on every key the script
   * reads or the batch writes, runs CHECK_BATCH, which writes nothing and answers each item as RUN_BATCH
   * would have; returns the writes it found would fail. Ownership and stream order are not WATCHed.
   */
  async check(connection: RedisClient, keys: readonly string[]): Promise<EffectFailure<Item>[]> {
    await connection.watch(...keys);
    return this.result(await connection.eval(CHECK_BATCH, 0, ...this.args())).effectFailures;
  }

  private args(): string[] {
    const { first, last } = entriesOf(this.source, this.items);
    const { stream = '', group = '', consumer = '', cursorKey = '' } = this.source ?? {};
    return [stream, group, consumer, first, last, cursorKey, JSON.stringify(this.encoded, wellFormed)];
  }

  private result(reply: unknown): CommitReport<Item> {
    const [failed, answers, trimmed] = reply as [(number | string)[], string, number];
    const failures: EffectFailure<Item>[] = [];
    for (let i = 0; i < failed.length; i += 2) {
      const command = this.commands[Number(failed[i]) - 1];
      failures.push({ item: command?.item, effect: command?.effect, error: new ReplyError(String(failed[i + 1])) });
    }
    for (let i = 0; i < answers.length; i++) this.items[i]!.answer = ANSWERS[answers[i]!];
    return trimmed > 0 ? { effectFailures: failures, trimmed } : { effectFailures: failures };
  }
}

/**
 * The items an oversized batch's check found would apply, as plain commands in one MULTI/EXEC
 * (under the check's WATCH): a superseded item only acknowledged, the others' newest-wins ids SETs
 * of their own. It answers nothing (the check did).
 */
export class PlainBatch<Item extends CommitItem> extends Batch<Item> {
  add(item: Item, overwritten: ReadonlySet<Effect>): void {
    this.items.push(item);
    if (item.answer === 'superseded') return;
    const condition = item.recorder?.condition;
    if (condition !== undefined) this.commands.push({ args: ['SET', condition.key, condition.id], item, effect: undefined });
    this.commands.push(...itemCommands(item, overwritten, this.streamMaxLen));
  }

  /** Null when a WATCHed key changed and nothing ran. */
  async run(connection: RedisClient): Promise<CommitReport<Item> | null> {
    const { ids } = entriesOf(this.source, this.items);
    if (this.commands.length === 0 && ids.length === 0) {
      await connection.unwatch();
      return { effectFailures: [] };
    }
    const transaction = connection.multi();
    queueCommands(transaction, this.commands);
    if (this.source && ids.length > 0) transaction.xack(this.source.stream, this.source.group, ...ids);
    const replies = await transaction.exec().catch((error: unknown) => {
      // The first refusal says why (EXEC's EXECABORT only repeats that something was refused).
      throw (error as { previousErrors?: Error[] }).previousErrors?.[0] ?? error;
    });
    return replies && readReplies(this.commands, replies);
  }
}

/** A pipeline's or transaction's replies to `commands`: the refusals, and the dead letters the bound trimmed; any other error throws. */
export function readReplies<Item>(commands: readonly Command<Item>[], replies: readonly [Error | null, unknown][]): CommitReport<Item> {
  const failures: EffectFailure<Item>[] = [];
  let trimmed = 0;
  replies.forEach(([error, reply], i) => {
    const command = commands[i]; // none for the acknowledgement after them
    if (error && !(error instanceof ReplyError)) throw error;
    if (error) failures.push({ item: command?.item, effect: command?.effect, error });
    else if (command?.args[0] === DEAD_LETTER_APPEND) trimmed += Number(reply);
  });
  return trimmed > 0 ? { effectFailures: failures, trimmed } : { effectFailures: failures };
}
